package io.vineyard.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.StoreStats;
import io.vineyard.client.IpcClient;
import io.vineyard.testing.DaemonProcess;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every command of {@code vineyardctl}, run in-process through {@link Vineyardctl#run} against a real
 * daemon in its own JVM (one per class).
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class VineyardctlIT {

  private static final Pattern ID = Pattern.compile("o[0-9a-f]{16}");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long MIB = 1 << 20;

  @TempDir static Path daemonDir;
  @TempDir Path work;

  private static DaemonProcess daemon;
  private static String sock;
  private static IpcClient client;
  private static final Random RANDOM = new Random(0x5eed);
  private static int unique;

  @BeforeAll
  static void startDaemon() throws IOException {
    assertTrue(daemonDir.resolve("vineyard.sock").toString().length() < 100, "socket path too long: " + daemonDir);
    daemon = DaemonProcess.start(daemonDir, "256Mi");
    sock = daemon.socket().toString();
    client = daemon.connect();
  }

  @AfterAll
  static void stopDaemon() throws IOException {
    try {
      if (client != null) {
        client.close();
      }
    } finally {
      if (daemon != null) {
        daemon.close();
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  /** Runs with no input, against the test daemon. */
  private static CtlRun ctl(String... args) {
    return ctlIn(new byte[0], args);
  }

  /** Runs with {@code stdin} as standard input, against the test daemon. */
  private static CtlRun ctlIn(byte[] stdin, String... args) {
    List<String> all = new ArrayList<>(List.of("--socket", sock));
    all.addAll(List.of(args));
    return raw(stdin, all.toArray(String[]::new));
  }

  /** Runs exactly these arguments. */
  private static CtlRun raw(byte[] stdin, String... args) {
    return CtlRun.run(stdin, args);
  }

  /** Runs through the package-private entry point, telling the tool whether stderr is a terminal. */
  private static CtlRun ctlTerminal(boolean terminal, String... args) {
    List<String> all = new ArrayList<>(List.of("--socket", sock));
    all.addAll(List.of(args));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
    int code =
        Vineyardctl.run(new ByteArrayInputStream(new byte[0]), o, new PrintStream(err, true, StandardCharsets.UTF_8),
            Channels.newChannel(o), -1, terminal, all.toArray(String[]::new));
    return new CtlRun(code, out.toByteArray(), err.toString(StandardCharsets.UTF_8), all);
  }

  private static CtlRun ok(CtlRun r) {
    return r.ok();
  }

  /** A failure: this exit status, nothing on stdout, one line on stderr without a stack trace. */
  private static CtlRun fails(int code, CtlRun r) {
    return r.fails(code);
  }

  /** A usage error (picocli): status 2, nothing on stdout, the problem on the first line, no stack trace. */
  private static CtlRun usageError(CtlRun r, String firstLineContains) {
    assertEquals(ExitCodes.INVALID_ARGUMENT, r.code(), r::toString);
    assertEquals(0, r.stdoutBytes().length, r::toString);
    assertTrue(r.stderr().lines().findFirst().orElse("").contains(firstLineContains), r::toString);
    assertFalse(r.stderr().contains("\tat "), r::toString);
    return r;
  }

  private static String putId(CtlRun r) {
    ok(r);
    String id = r.lastLine();
    assertTrue(ID.matcher(id).matches(), () -> "the last line is the id: " + r);
    return id;
  }

  private static byte[] random(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return b;
  }

  private Path file(String name, byte[] content) throws IOException {
    return Files.write(work.resolve(name), content);
  }

  private static String uniqueName(String prefix) {
    return prefix + "-" + (++unique);
  }

  private static JsonNode json(CtlRun r) throws IOException {
    ok(r);
    return JSON.readTree(r.stdout());
  }

  /** A test::Pair of two fresh blobs, with a field of every kind. */
  private record Pair(ObjectId id, ObjectId left, ObjectId right, String typename) {}

  private static Pair pair(String typename) {
    ObjectId left = client.putBlob(random(1000));
    ObjectId right = client.putBlob(random(100_000));
    ObjectId id = client.putMeta(pairMeta(typename, left, right));
    return new Pair(id, left, right, typename);
  }

  private static ObjectMeta pairMeta(String typename, ObjectId left, ObjectId right) {
    return ObjectMeta.builder(typename)
        .field("k", 1L)
        .field("d", 2.5)
        .field("flag", true)
        .field("s", "he said \"hi\"\n\tand left \\")
        .jsonField("j", "{\"a\":[1,2]}")
        .member("left", left)
        .member("right", right)
        .build();
  }

  // ---------------------------------------------------------------- put and get

  @Test
  void putPrintsTheIdAloneOnTheLastLineAndGetReturnsTheExactBytes() throws IOException {
    int[] sizes = {0, 1, 1000, 64 << 10, (64 << 10) + 1, 200_000};
    for (int size : sizes) {
      byte[] content = random(size);
      Path in = file("in-" + size + ".bin", content);
      CtlRun put = ctl("put", in.toString());
      String id = putId(put);
      assertEquals(1, put.lines().size(), put::toString);
      assertEquals(size, client.getMeta(ObjectId.parse(id)).nbytes());

      CtlRun get = ok(ctl("get", id));
      assertArrayEquals(content, get.stdoutBytes(), "get " + id + " to stdout, " + size + " bytes");

      Path out = work.resolve("out-" + size + ".bin");
      CtlRun getFile = ok(ctl("get", id, "-o", out.toString()));
      assertEquals(0, getFile.stdoutBytes().length, getFile::toString);
      assertArrayEquals(content, Files.readAllBytes(out), "get " + id + " -o, " + size + " bytes");

      Path out2 = work.resolve("out2-" + size + ".bin");
      ok(ctl("get", "--out", out2.toString(), id));
      assertArrayEquals(content, Files.readAllBytes(out2));

      CtlRun dash = ok(ctl("get", id, "-o", "-"));
      assertArrayEquals(content, dash.stdoutBytes(), "-o - is standard output");
    }
  }

  @Test
  void putWithNameBindsTheNameAndGetResolvesIt() throws IOException {
    byte[] content = random(150_000);
    String name = uniqueName("dataset");
    String id = putId(ctl("put", file("named.bin", content).toString(), "--name", name));
    assertEquals(id, client.getName(name).toString());

    assertArrayEquals(content, ok(ctl("get", name)).stdoutBytes());
    Path out = work.resolve("by-name.bin");
    ok(ctl("get", name, "-o", out.toString()));
    assertArrayEquals(content, Files.readAllBytes(out));

    // The option may come before the file, and a name with spaces and unicode is fine.
    String odd = uniqueName("my data ✓");
    String id2 = putId(ctl("put", "--name", odd, file("odd.bin", content).toString()));
    assertEquals(id2, client.getName(odd).toString());
    assertArrayEquals(content, ok(ctl("get", odd)).stdoutBytes());
  }

  @Test
  void putDashReadsStandardInput() throws IOException {
    for (int size : new int[] {0, 5, 64 << 10, 300_000}) {
      byte[] content = random(size);
      String id = putId(ctlIn(content, "put", "-"));
      assertEquals(size, client.getMeta(ObjectId.parse(id)).nbytes());
      assertArrayEquals(content, ok(ctl("get", id)).stdoutBytes(), "stdin of " + size + " bytes");
    }
    byte[] content = random(70_000);
    String name = uniqueName("from-stdin");
    String id = putId(ctlIn(content, "put", "-", "--name", name));
    assertEquals(id, client.getName(name).toString());
    assertArrayEquals(content, ok(ctl("get", name)).stdoutBytes());
  }

  @Test
  void putJsonOutputGivesIdSizeAndName() throws IOException {
    byte[] content = random(123);
    String name = uniqueName("json-put");
    JsonNode j = json(ctl("--output", "json", "put", file("j.bin", content).toString(), "--name", name));
    assertTrue(ID.matcher(j.get("id").asText()).matches(), j::toString);
    assertEquals(123, j.get("size_bytes").asLong());
    assertEquals(name, j.get("name").asText());
    assertEquals(j.get("id").asText(), client.getName(name).toString());
  }

  @Test
  void getToAFileIsAtomicLeavesNoTemporaryFileAndOverwrites() throws IOException {
    Path dir = Files.createDirectory(work.resolve("dest"));
    byte[] first = random(100_000);
    byte[] second = random(1000);
    String a = putId(ctl("put", file("a.bin", first).toString()));
    String b = putId(ctl("put", file("b.bin", second).toString()));
    Path target = dir.resolve("target.bin");

    ok(ctl("get", a, "-o", target.toString()));
    assertArrayEquals(first, Files.readAllBytes(target));
    assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
    assertEquals(List.of(target), listDir(dir));

    // Overwriting a longer file with a shorter one: exact bytes, and the file keeps its permissions.
    Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-------"));
    ok(ctl("get", b, "-o", target.toString()));
    assertArrayEquals(second, Files.readAllBytes(target));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
    assertEquals(List.of(target), listDir(dir));

    // A failed get touches neither an existing file nor creates a new one.
    fails(ExitCodes.NOT_FOUND, ctl("get", "o8000000000000001", "-o", target.toString()));
    assertArrayEquals(second, Files.readAllBytes(target));
    fails(ExitCodes.NOT_FOUND, ctl("get", uniqueName("unbound"), "-o", dir.resolve("new.bin").toString()));
    assertEquals(List.of(target), listDir(dir));

    // A target that is a directory is refused up front, leaving nothing behind.
    Path sub = Files.createDirectory(dir.resolve("sub"));
    fails(ExitCodes.INVALID_ARGUMENT, ctl("get", a, "-o", sub.toString()));
    fails(ExitCodes.INVALID_ARGUMENT, ctl("get", a, "-o", dir.resolve("missing/x.bin").toString()));
    assertEquals(List.of(sub, target), listDir(dir));
    assertEquals(List.of(), listDir(sub));

    // A target in a subdirectory.
    Path nested = Files.createDirectory(dir.resolve("nested"));
    ok(ctl("get", a, "-o", nested.resolve("x").toString()));
    assertArrayEquals(first, Files.readAllBytes(nested.resolve("x")));
  }

  private static List<Path> listDir(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.sorted().toList();
    }
  }

  // ---------------------------------------------------------------- ls and inspect

  @Test
  void lsShowsAHeaderAndTheObjectsAndFiltersByTypename() throws IOException {
    String name = uniqueName("ls-blob");
    String blob = putId(ctl("put", file("ls.bin", random(3000)).toString(), "--name", name));
    Pair p = pair("test::LsPair");

    CtlRun all = ok(ctl("ls"));
    List<String> lines = all.lines();
    assertTrue(lines.getFirst().matches("ID +TYPENAME +SIZE +INSTANCE +NAMES"), all::toString);
    String blobRow = row(lines, blob);
    assertTrue(blobRow.matches(blob + " +vineyard::Blob +2\\.9 KiB +" + client.instanceId() + " +" + Pattern.quote(name)), blobRow);
    assertTrue(row(lines, p.id().toString()).contains("test::LsPair"), all::toString);
    // The pair's blobs are its members: listed with --all only.
    assertFalse(lines.stream().anyMatch(l -> l.startsWith(p.left() + " ")), all::toString);
    row(ok(ctl("ls", "--all")).lines(), p.left().toString());
    // Every row has the columns in the header's places.
    int typeCol = lines.getFirst().indexOf("TYPENAME");
    for (String line : lines.subList(1, lines.size())) {
      assertTrue(ID.matcher(line.substring(0, 17)).matches(), line);
      assertFalse(line.substring(typeCol).startsWith(" "), () -> "aligned: " + all);
    }

    CtlRun filtered = ok(ctl("ls", "--typename", "test::LsP*"));
    assertEquals(2, filtered.lines().size(), filtered::toString);
    assertTrue(filtered.lines().get(1).startsWith(p.id().toString()), filtered::toString);

    CtlRun none = ok(ctl("ls", "--typename", "no::such*"));
    assertEquals(1, none.lines().size(), "only the header: " + none);

    CtlRun glob = ok(ctl("ls", "--typename", "test::L?Pair"));
    assertEquals(2, glob.lines().size(), glob::toString);
  }

  private static String row(List<String> lines, String id) {
    return lines.stream().filter(l -> l.startsWith(id + " ")).findFirst()
        .orElseThrow(() -> new AssertionError(id + " not listed:\n" + String.join("\n", lines)));
  }

  @Test
  void lsJsonIsAnArrayOfObjectsWithTheirNames() throws IOException {
    String name1 = uniqueName("ls-json-a");
    String name2 = uniqueName("ls-json-b");
    String blob = putId(ctl("put", file("lsj.bin", random(4321)).toString(), "--name", name1));
    ok(ctl("name", blob, name2));
    Pair p = pair("test::LsJsonPair");

    for (CtlRun r : List.of(ctl("ls", "--output", "json"), ctl("--output", "json", "ls"), ctl("ls", "--output=JSON"))) {
      JsonNode arr = json(r);
      assertTrue(arr.isArray(), r::toString);
      JsonNode e = find(arr, blob);
      assertEquals("vineyard::Blob", e.get("typename").asText());
      assertEquals(4321, e.get("size_bytes").asLong());
      assertEquals(client.instanceId(), e.get("instance_id").asLong());
      assertTrue(e.get("names").isArray());
      assertEquals(Set.of(name1, name2), Set.of(e.get("names").get(0).asText(), e.get("names").get(1).asText()));
      assertEquals(0, find(arr, p.id().toString()).get("names").size());
      for (JsonNode o : arr) {
        for (String key : List.of("id", "typename", "size_bytes", "instance_id", "names")) {
          assertTrue(o.has(key), () -> key + " missing in " + o);
        }
      }
    }

    JsonNode filtered = json(ctl("ls", "--typename", "test::LsJson*", "--output", "json"));
    assertEquals(1, filtered.size(), filtered::toString);
    assertEquals(p.id().toString(), filtered.get(0).get("id").asText());
    assertEquals(p.typename(), filtered.get(0).get("typename").asText());
    assertEquals(1000 + 100_000, filtered.get(0).get("size_bytes").asLong());

    JsonNode empty = json(ctl("--output", "json", "ls", "--typename", "no::such"));
    assertTrue(empty.isArray() && empty.isEmpty(), empty::toString);

    JsonNode limited = json(ctl("--output", "json", "ls", "--limit", "1"));
    assertEquals(1, limited.size(), limited::toString);
  }

  private static JsonNode find(JsonNode arr, String id) {
    for (JsonNode o : arr) {
      if (id.equals(o.get("id").asText())) {
        return o;
      }
    }
    throw new AssertionError(id + " not in " + arr);
  }

  @Test
  void inspectShowsTheMetadataTreeAsATable() {
    Pair inner = pair("test::Pair");
    ObjectId outer = client.putMeta(
        ObjectMeta.builder("test::Outer").field("label", "outer").member("pair", inner.id()).member("blob", inner.left())
            .build());
    String name = uniqueName("inspect");
    client.putName(name, outer);

    for (String ref : List.of(outer.toString(), name)) {
      CtlRun r = ok(ctl("inspect", ref));
      List<String> lines = r.lines();
      assertTrue(lines.getFirst().startsWith(outer + "  test::Outer  "), r::toString);
      assertTrue(lines.getFirst().contains("instance " + client.instanceId()), r::toString);
      String text = r.stdout();
      assertTrue(text.contains("    label = \"outer\""), text);
      assertTrue(text.contains("    pair: " + inner.id() + "  test::Pair  "), text);
      assertTrue(text.contains("    blob: " + inner.left() + "  vineyard::Blob  1000 B"), text);
      // The nested pair's fields and members, one level deeper.
      assertTrue(text.contains("        k = 1\n"), text);
      assertTrue(text.contains("        d = 2.5\n"), text);
      assertTrue(text.contains("        flag = true\n"), text);
      assertTrue(text.contains("        j = {\"a\":[1,2]}"), text);
      assertTrue(text.contains("        left: " + inner.left() + "  vineyard::Blob  1000 B"), text);
      assertTrue(text.contains("        right: " + inner.right() + "  vineyard::Blob  97.7 KiB"), text);
    }

    CtlRun blob = ok(ctl("inspect", inner.right().toString()));
    assertEquals(1, blob.lines().size(), blob::toString);
    assertTrue(blob.stdout().startsWith(inner.right() + "  vineyard::Blob  97.7 KiB  instance "), blob::toString);
  }

  @Test
  void inspectJsonIsValidWithMembersExpanded() throws IOException {
    Pair inner = pair("test::Pair");
    ObjectId outer = client.putMeta(
        ObjectMeta.builder("test::Outer").field("label", "outer").member("pair", inner.id()).member("blob", inner.left())
            .build());

    for (CtlRun r : List.of(ctl("inspect", outer.toString(), "--output", "json"), ctl("--output", "json", "inspect", outer.toString()))) {
      JsonNode j = json(r);
      assertEquals(outer.toString(), j.get("id").asText());
      assertEquals("test::Outer", j.get("typename").asText());
      assertEquals(1000 + 100_000, j.get("size_bytes").asLong());
      assertEquals(client.instanceId(), j.get("instance_id").asLong());
      assertFalse(j.get("global").asBoolean());
      assertEquals("outer", j.get("fields").get("label").asText());

      JsonNode p = j.get("members").get("pair");
      assertEquals(inner.id().toString(), p.get("id").asText());
      assertEquals("test::Pair", p.get("typename").asText());
      JsonNode f = p.get("fields");
      assertEquals(1, f.get("k").asLong());
      assertTrue(f.get("k").isIntegralNumber());
      assertEquals(2.5, f.get("d").asDouble());
      assertTrue(f.get("flag").isBoolean() && f.get("flag").asBoolean());
      assertEquals("he said \"hi\"\n\tand left \\", f.get("s").asText());
      assertEquals(JSON.readTree("{\"a\":[1,2]}"), f.get("j"), "JSON fields are embedded as documents");

      JsonNode left = p.get("members").get("left");
      assertEquals(inner.left().toString(), left.get("id").asText());
      assertEquals("vineyard::Blob", left.get("typename").asText());
      assertEquals(1000, left.get("size_bytes").asLong());
      assertTrue(left.get("fields").isObject() && left.get("members").isObject() && left.get("members").isEmpty());
      assertEquals(100_000, p.get("members").get("right").get("size_bytes").asLong());
      assertEquals(inner.left().toString(), j.get("members").get("blob").get("id").asText());
    }

    // A double that JSON cannot hold is given as a string, so the output stays valid.
    ObjectId odd = client.putMeta(ObjectMeta.builder("test::Odd").field("nan", Double.NaN)
        .field("inf", Double.NEGATIVE_INFINITY).field("big", 1e300).field("ctl", "\u0001\u001f").build());
    JsonNode j = json(ctl("--output", "json", "inspect", odd.toString()));
    assertEquals("NaN", j.get("fields").get("nan").asText());
    assertEquals("-Infinity", j.get("fields").get("inf").asText());
    assertEquals(1e300, j.get("fields").get("big").asDouble());
    assertEquals("\u0001\u001f", j.get("fields").get("ctl").asText());
    assertTrue(j.get("members").isEmpty());
  }

  // ---------------------------------------------------------------- rm and name

  @Test
  void rmDeletesAndPrintsTheIdsThenGetFailsWithNotFound() throws IOException {
    String a = putId(ctl("put", file("rm-a.bin", random(100)).toString()));
    String name = uniqueName("rm-me");
    String b = putId(ctl("put", file("rm-b.bin", random(100_000)).toString(), "--name", name));

    CtlRun r = ok(ctl("rm", a));
    assertEquals(List.of(a), r.lines());
    assertFalse(client.exists(ObjectId.parse(a)));
    fails(ExitCodes.NOT_FOUND, ctl("get", a));
    fails(ExitCodes.NOT_FOUND, ctl("get", a, "-o", work.resolve("gone.bin").toString()));
    assertFalse(Files.exists(work.resolve("gone.bin")));
    fails(ExitCodes.NOT_FOUND, ctl("rm", a));
    fails(ExitCodes.NOT_FOUND, ctl("inspect", a));

    // By name, with JSON output.
    JsonNode j = json(ctl("--output", "json", "rm", name));
    assertEquals(b, j.get("deleted").get(0).asText());
    assertEquals(1, j.get("deleted").size());
    assertFalse(client.exists(ObjectId.parse(b)));
    fails(ExitCodes.NOT_FOUND, ctl("get", b));
    fails(ExitCodes.NOT_FOUND, ctl("get", name));

    // Several at once.
    String c = putId(ctl("put", file("rm-c.bin", random(10)).toString()));
    String d = putId(ctl("put", file("rm-d.bin", random(10)).toString()));
    CtlRun two = ok(ctl("rm", c, d));
    assertEquals(Set.of(c, d), new HashSet<>(two.lines()));
  }

  @Test
  void rmOfAMemberNeedsForceAndDeletesUnsharedMembersUnlessKept() throws IOException {
    Pair p = pair("test::RmPair");

    // A blob that an object uses: refused without --force, and nothing is deleted.
    CtlRun inUse = fails(ExitCodes.OTHER, ctl("rm", p.left().toString()));
    assertTrue(client.exists(p.left()) && client.exists(p.id()), inUse::toString);
    assertTrue(inUse.stderr().contains(p.left().toString()), inUse::toString);

    // --force deletes it and the objects that use it.
    CtlRun forced = ok(ctl("rm", "--force", p.left().toString()));
    assertTrue(forced.lines().contains(p.left().toString()), forced::toString);
    assertTrue(forced.lines().contains(p.id().toString()), forced::toString);
    assertFalse(client.exists(p.left()));
    assertFalse(client.exists(p.id()));
    assertTrue(client.exists(p.right()), "the other member stays");

    // With --keep-members, members stay.
    Pair q = pair("test::RmPair");
    assertEquals(List.of(q.id().toString()), ok(ctl("rm", q.id().toString(), "--keep-members")).lines());
    assertTrue(client.exists(q.left()) && client.exists(q.right()));

    // By default members that nothing else uses go with the object; shared ones stay.
    Pair r = pair("test::RmPair");
    ObjectId other = client.putMeta(ObjectMeta.builder("test::User").member("shared", r.right()).build());
    CtlRun deep = ok(ctl("rm", r.id().toString()));
    assertEquals(Set.of(r.id().toString(), r.left().toString()), new HashSet<>(deep.lines()), deep::toString);
    assertFalse(client.exists(r.id()));
    assertFalse(client.exists(r.left()));
    assertTrue(client.exists(r.right()), "still used by " + other);
    fails(ExitCodes.NOT_FOUND, ctl("get", r.left().toString()));
    assertEquals(100_000, json(ctl("--output", "json", "inspect", other.toString())).get("size_bytes").asLong());
  }

  @Test
  void nameBindsRebindsResolvesAndDrops() throws IOException {
    byte[] c1 = random(70_000);
    byte[] c2 = random(10);
    String id1 = putId(ctl("put", file("n1.bin", c1).toString()));
    String id2 = putId(ctl("put", file("n2.bin", c2).toString()));
    String name = uniqueName("latest");

    CtlRun bind = ok(ctl("name", id1, name));
    assertEquals(0, bind.stdoutBytes().length, "silent in table mode: " + bind);
    assertEquals(id1, client.getName(name).toString());
    assertArrayEquals(c1, ok(ctl("get", name)).stdoutBytes());

    // Rebinding replaces the earlier binding.
    ok(ctl("name", id2, name));
    assertArrayEquals(c2, ok(ctl("get", name)).stdoutBytes());

    // The object may be given by another name; JSON output shows the binding.
    String alias = uniqueName("alias");
    JsonNode j = json(ctl("--output", "json", "name", name, alias));
    assertEquals(alias, j.get("name").asText());
    assertEquals(id2, j.get("id").asText());
    assertArrayEquals(c2, ok(ctl("get", alias)).stdoutBytes());

    // The names show up in ls.
    String row = row(ok(ctl("ls")).lines(), id2);
    assertTrue(row.contains(name) && row.contains(alias), row);

    // Dropping a name leaves the object and the other names.
    CtlRun drop = ok(ctl("name", "--drop", name));
    assertEquals(0, drop.stdoutBytes().length);
    fails(ExitCodes.NOT_FOUND, ctl("get", name));
    assertArrayEquals(c2, ok(ctl("get", alias)).stdoutBytes());
    assertArrayEquals(c2, ok(ctl("get", id2)).stdoutBytes());
    fails(ExitCodes.NOT_FOUND, ctl("name", "--drop", name));

    // Binding to an object that does not exist, or by a name that is not bound.
    fails(ExitCodes.NOT_FOUND, ctl("name", "o0000000000000001", uniqueName("x")));
    fails(ExitCodes.NOT_FOUND, ctl("name", uniqueName("unbound"), uniqueName("x")));
    // Missing or conflicting arguments.
    fails(ExitCodes.INVALID_ARGUMENT, ctl("name"));
    fails(ExitCodes.INVALID_ARGUMENT, ctl("name", id1));
    fails(ExitCodes.INVALID_ARGUMENT, ctl("name", "--drop", alias, id1));
  }

  // ---------------------------------------------------------------- stats

  @Test
  void statsMatchTheClientsView() throws IOException {
    putId(ctl("put", file("stats.bin", random(50_000)).toString(), "--name", uniqueName("stats")));

    JsonNode j = json(ctl("stats", "--output", "json"));
    StoreStats s = client.stats();
    assertEquals(s.instanceId(), j.get("instance_id").asLong());
    assertEquals(s.capacityBytes(), j.get("capacity_bytes").asLong());
    assertEquals(256 * MIB, j.get("capacity_bytes").asLong());
    assertEquals(s.usedBytes(), j.get("used_bytes").asLong());
    assertEquals(s.largestFreeBytes(), j.get("largest_free_bytes").asLong());
    assertEquals(s.objectCount(), j.get("object_count").asLong());
    assertEquals(s.blobCount(), j.get("blob_count").asLong());
    assertEquals(s.unsealedBlobCount(), j.get("unsealed_blob_count").asLong());
    assertEquals(s.pinnedBlobCount(), j.get("pinned_blob_count").asLong());
    assertEquals(s.nameCount(), j.get("name_count").asLong());
    assertEquals(s.heapMaxBytes(), j.get("heap_max_bytes").asLong());
    assertTrue(j.get("client_count").asLong() >= 2, "this test's client and the tool's own: " + j);
    assertTrue(j.get("heap_used_bytes").asLong() > 0);
    assertEquals(s.spilledBytes(), j.get("spilled_bytes").asLong());
    assertEquals(s.spilledBlobCount(), j.get("spilled_blob_count").asLong());
    assertEquals(s.spillWrites(), j.get("spill_writes").asLong());
    assertEquals(s.reloads(), j.get("reloads").asLong());
    assertEquals(client.instances().getFirst().rpcEndpoint(), j.get("rpc_endpoint").asText());
    assertTrue(j.get("direct_memory_bytes").asLong() > 0, j::toString);
    assertEquals(18, j.size(), j::toString);

    CtlRun t = ok(ctl("stats"));
    String text = t.stdout();
    StoreStats now = client.stats();
    assertTrue(text.contains("capacity            256 MiB (268435456 bytes)\n"), text);
    assertTrue(text.contains("(" + now.usedBytes() + " bytes)"), text);
    assertTrue(text.lines().anyMatch(l -> l.matches("objects +" + now.objectCount())), text);
    assertTrue(text.lines().anyMatch(l -> l.matches("blobs +" + now.blobCount() + " \\(0 unsealed, 0 pinned\\)")), text);
    assertTrue(text.lines().anyMatch(l -> l.matches("names +" + now.nameCount())), text);
    assertTrue(text.lines().anyMatch(l -> l.matches("instance +" + now.instanceId())), text);
    assertTrue(text.lines().anyMatch(l -> l.matches("clients +[0-9]+")), text);
    assertTrue(text.lines().anyMatch(l -> l.matches("daemon heap +.+ of .+")), text);
    assertTrue(text.lines().anyMatch(l -> l.matches("largest free block +.+")), text);
    assertTrue(text.lines().anyMatch(l -> l.matches("spilled +.+ in " + now.spilledBlobCount() + " blobs \\(.+\\)")), text);
    assertTrue(text.lines().anyMatch(l -> l.matches("gRPC endpoint +127\\.0\\.0\\.1:[0-9]+")), text);
    assertEquals(11, text.lines().count(), text);
  }

  // ---------------------------------------------------------------- cluster commands, local metadata

  @Test
  void instancesShowsTheDaemonItselfWithLocalMetadata() throws IOException {
    String socket = daemon.socket().toAbsolutePath().toString();
    String rpc = daemon.info().rpcEndpoint();
    CtlRun t = ok(ctl("instances"));
    assertEquals(2, t.lines().size(), t::toString);
    assertTrue(t.lines().getFirst().matches("ID +HOST +SOCKET +RPC +USED +CAPACITY +STARTED"), t::toString);
    String[] cells = t.lines().get(1).split(" {2,}");
    assertEquals(7, cells.length, t::toString);
    assertEquals(Long.toString(client.instanceId()), cells[0], t::toString);
    assertEquals(socket, cells[2], t::toString);
    assertEquals(rpc, cells[3], t::toString);
    assertEquals("256 MiB", cells[5], t::toString);

    JsonNode arr = json(ctl("--output", "json", "instances"));
    assertEquals(1, arr.size(), arr::toString);
    JsonNode self = arr.get(0);
    assertEquals(client.instanceId(), self.get("instance_id").asLong());
    assertEquals(socket, self.get("ipc_socket").asText());
    assertEquals(rpc, self.get("rpc_endpoint").asText());
    assertEquals(256 * MIB, self.get("capacity_bytes").asLong());
    assertEquals(client.daemonVersion(), self.get("daemon_version").asText());
    assertEquals(cells[6], self.get("started_at").asText());
  }

  @Test
  void persistLsGlobalLocateAndMigrateWorkWithLocalMetadata() throws IOException {
    String name = uniqueName("persisted");
    String id = putId(ctl("put", file("persist.bin", random(2500)).toString(), "--name", name));
    assertFalse(ok(ctl("ls", "--global")).lines().stream().anyMatch(l -> l.startsWith(id + " ")), "not persisted yet");

    CtlRun persist = ok(ctl("persist", name));
    assertEquals(0, persist.stdoutBytes().length, persist::toString);

    CtlRun global = ok(ctl("ls", "--global"));
    assertTrue(global.lines().getFirst().matches("ID +TYPENAME +SIZE +INSTANCE +NAMES"), global::toString);
    assertTrue(row(global.lines(), id).matches(id + " +vineyard::Blob +2\\.4 KiB +" + client.instanceId() + " +" + Pattern.quote(name)),
        global::toString);
    JsonNode e = find(json(ctl("ls", "--global", "--output", "json")), id);
    assertEquals(2500, e.get("size_bytes").asLong());
    assertEquals(name, e.get("names").get(0).asText());
    assertTrue(ok(ctl("ls")).lines().stream().anyMatch(l -> l.startsWith(id + " ")), "still in the daemon's own listing");

    CtlRun locate = ok(ctl("locate", name));
    assertEquals(2, locate.lines().size(), locate::toString);
    List<String> cells = List.of(locate.lines().get(1).split(" {2,}"));
    assertEquals(List.of(".", id, "vineyard::Blob", "2.4 KiB", Long.toString(client.instanceId())), cells.subList(0, 5),
        locate::toString);

    // Already local: migrate gives the object back as it is.
    CtlRun migrate = ok(ctl("migrate", name));
    assertEquals(List.of(id), migrate.lines(), migrate::toString);

    fails(ExitCodes.NOT_FOUND, ctl("persist", "o8000000000000001"));
    fails(ExitCodes.NOT_FOUND, ctl("persist", uniqueName("unbound")));

    // The daemon's own gRPC port answers the read-only commands; the others refuse --rpc.
    String rpc = daemon.info().rpcEndpoint();
    assertTrue(raw(new byte[0], "--rpc", rpc, "ls", "--global").stdout().contains(id + " "));
    assertEquals(List.of(id + "  vineyard::Blob  2.4 KiB  instance " + client.instanceId()),
        ok(raw(new byte[0], "--rpc", rpc, "inspect", name)).lines());
    fails(ExitCodes.INVALID_ARGUMENT, raw(new byte[0], "--rpc", rpc, "get", id));
  }

  // ---------------------------------------------------------------- errors and exit codes

  @Test
  void notFoundIsExitCode3() throws IOException {
    CtlRun unknownBlob = fails(ExitCodes.NOT_FOUND, ctl("get", "o8000000000000001"));
    assertEquals("vineyardctl: object o8000000000000001 does not exist\n", unknownBlob.stderr());
    fails(ExitCodes.NOT_FOUND, ctl("get", "o0000000000000001"));
    fails(ExitCodes.NOT_FOUND, ctl("inspect", "o0000000000000001"));
    fails(ExitCodes.NOT_FOUND, ctl("rm", "o0000000000000001"));

    // A deleted object.
    String id = putId(ctl("put", file("del.bin", random(100_000)).toString()));
    client.delete(ObjectId.parse(id));
    fails(ExitCodes.NOT_FOUND, ctl("get", id));
    fails(ExitCodes.NOT_FOUND, ctl("inspect", id));

    // Anything that is not 'o' + 16 hex digits is a name; unbound, it is not found either.
    for (String ref : List.of("o123", "o80000000000000zz", "O8000000000000001", "o8000000000000001x", "plain-name")) {
      CtlRun r = fails(ExitCodes.NOT_FOUND, ctl("get", ref));
      assertEquals("vineyardctl: no object is named '" + ref + "'\n", r.stderr());
    }
  }

  @Test
  void aNameOfAnyShapeButAnIdsResolves() throws IOException {
    byte[] content = random(77);
    String id = putId(ctl("put", file("shape.bin", content).toString()));
    for (String name : List.of("o123", "O8000000000000001", "o8000000000000001x", uniqueName("with space"))) {
      ok(ctl("name", id, name));
      assertArrayEquals(content, ok(ctl("get", name)).stdoutBytes(), name);
    }
  }

  @Test
  void getOfANonBlobIsAnInvalidArgument() {
    Pair p = pair("test::GetPair");
    CtlRun r = fails(ExitCodes.INVALID_ARGUMENT, ctl("get", p.id().toString()));
    assertTrue(r.stderr().contains("test::GetPair, not a blob"), r::toString);
    fails(ExitCodes.INVALID_ARGUMENT, ctl("get", p.id().toString(), "-o", work.resolve("pair.bin").toString()));
    assertFalse(Files.exists(work.resolve("pair.bin")));
  }

  @Test
  void noDaemonIsExitCode4() {
    String nowhere = work.resolve("nobody.sock").toString();
    for (String[] args : List.of(new String[] {"--socket", nowhere, "ls"}, new String[] {"stats", "--socket", nowhere},
        new String[] {"--socket", nowhere, "get", "o8000000000000001"})) {
      CtlRun r = fails(ExitCodes.CANNOT_CONNECT, raw(new byte[0], args));
      assertTrue(r.stderr().contains(nowhere), r::toString);
    }
  }

  @Test
  void moreThanTheStoreHoldsIsExitCode5() throws IOException {
    long usedBefore = client.stats().usedBytes();
    Path big = work.resolve("sparse.bin");
    try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
      f.setLength(300 * MIB);
    }
    CtlRun r = fails(ExitCodes.OUT_OF_MEMORY, ctl("put", big.toString(), "--name", uniqueName("too-big")));
    assertTrue(r.stderr().contains("a blob of 300 MiB") && r.stderr().contains("exceeds the store's size of 256 MiB"), r::toString);
    StoreStats after = client.stats();
    assertEquals(usedBefore, after.usedBytes(), "nothing left allocated");
    assertEquals(0, after.unsealedBlobCount());
  }

  @Test
  void badUsageIsExitCode2() throws IOException {
    usageError(ctl("frobnicate"), "frobnicate");
    usageError(ctl("ls", "--bogus"), "--bogus");
    usageError(ctl("--bogus", "ls"), "--bogus");
    usageError(ctl(), "a command is required");
    usageError(ctl("get"), "ID|NAME");
    usageError(ctl("rm"), "ID|NAME");
    usageError(ctl("put"), "FILE");
    usageError(ctl("--output", "xml", "ls"), "xml");
    usageError(ctl("ls", "--limit", "many"), "many");
    usageError(ctl("get", "a", "b"), "b");

    // Argument errors found while running are one line.
    CtlRun missing = fails(ExitCodes.INVALID_ARGUMENT, ctl("put", work.resolve("absent.bin").toString()));
    assertTrue(missing.stderr().contains("no such file"), missing::toString);
    CtlRun dir = fails(ExitCodes.INVALID_ARGUMENT, ctl("put", work.toString()));
    assertTrue(dir.stderr().contains("is a directory"), dir::toString);
  }

  @Test
  void verbosePrintsTheStackTraceAndTimings() throws IOException {
    for (String[] args : List.of(new String[] {"--verbose", "get", "o8000000000000001"},
        new String[] {"get", "o8000000000000001", "--verbose"}, new String[] {"-v", "get", "o8000000000000001"})) {
      CtlRun r = ctl(args);
      assertEquals(ExitCodes.NOT_FOUND, r.code(), r::toString);
      assertEquals(0, r.stdoutBytes().length, r::toString);
      List<String> lines = r.stderr().lines().toList();
      assertEquals("vineyardctl: object o8000000000000001 does not exist", lines.getFirst(), r::toString);
      assertTrue(lines.size() > 2, r::toString);
      assertTrue(r.stderr().contains("VineyardException"), r::toString);
      assertTrue(r.stderr().contains("\tat "), r::toString);
    }
    CtlRun conn = raw(new byte[0], "--verbose", "--socket", work.resolve("none.sock").toString(), "ls");
    assertEquals(ExitCodes.CANNOT_CONNECT, conn.code(), conn::toString);
    assertTrue(conn.stderr().contains("\tat "), conn::toString);

    // On success, timings go to stderr and stdout still ends with the id alone.
    byte[] content = random(1000);
    CtlRun put = ctl("-v", "put", file("v.bin", content).toString());
    assertEquals(0, put.code(), put::toString);
    assertTrue(put.stderr().startsWith("stored "), put::toString);
    assertTrue(ID.matcher(put.lastLine()).matches() && put.lines().size() == 1, put::toString);
    CtlRun get = ctl("get", put.lastLine(), "--verbose");
    assertEquals(0, get.code(), get::toString);
    assertArrayEquals(content, get.stdoutBytes());
    assertTrue(get.stderr().startsWith("read "), get::toString);
  }

  // ---------------------------------------------------------------- help and global options

  @Test
  void everyCommandHasHelpWithExamples() {
    for (String cmd : List.of("put", "get", "ls", "inspect", "rm", "name", "stats", "instances", "persist", "locate", "migrate")) {
      for (CtlRun r : List.of(raw(new byte[0], cmd, "--help"), raw(new byte[0], cmd, "-h"), raw(new byte[0], "help", cmd))) {
        ok(r);
        assertTrue(r.stdout().startsWith("Usage: vineyardctl " + cmd), r::toString);
        assertTrue(r.stdout().contains("Examples:"), r::toString);
        assertTrue(r.stdout().contains("vineyardctl " + cmd + " "), "an example of " + cmd + ": " + r);
      }
    }
    CtlRun top = ok(raw(new byte[0], "--help"));
    assertTrue(top.stdout().contains("Examples:"), top::toString);
    for (String s : List.of("put", "get", "ls", "inspect", "rm", "name", "stats", "instances", "persist", "locate",
        "migrate", "--socket", "--rpc", "--output", "--verbose", "VINEYARD_IPC_SOCKET", "3 not found", "4 cannot connect")) {
      assertTrue(top.stdout().contains(s), s + " missing: " + top);
    }
    CtlRun version = ok(raw(new byte[0], "--version"));
    assertTrue(version.stdout().startsWith("vineyardctl "), version::toString);
  }

  @Test
  void globalOptionsGoBeforeOrAfterTheCommand() throws IOException {
    String name = uniqueName("global");
    String id = putId(ctl("put", file("g.bin", random(10)).toString(), "--name", name));
    List<String[]> forms = List.of(
        new String[] {"--socket", sock, "--output", "json", "ls"},
        new String[] {"--output", "json", "--socket", sock, "ls"},
        new String[] {"ls", "--socket", sock, "--output", "json"},
        new String[] {"--socket", sock, "ls", "--output", "json"},
        new String[] {"--output", "json", "ls", "--socket", sock},
        new String[] {"--output=json", "ls", "--socket=" + sock});
    for (String[] args : forms) {
      CtlRun r = raw(new byte[0], args);
      JsonNode arr = json(r);
      assertEquals(name, find(arr, id).get("names").get(0).asText(), r::toString);
    }
    // Table stays the default, whatever the order.
    assertTrue(ok(raw(new byte[0], "ls", "--socket", sock)).stdout().startsWith("ID "));
    assertTrue(ok(raw(new byte[0], "--socket", sock, "--output", "table", "ls")).stdout().startsWith("ID "));
  }

  // ---------------------------------------------------------------- progress

  @Test
  void progressIsDrawnOnlyOnATerminalAndOnlyForLargeTransfers() throws IOException {
    byte[] large = random((int) (17 * MIB));
    Path in = file("large.bin", large);

    CtlRun quiet = ctlTerminal(false, "put", in.toString());
    String id = putId(quiet);

    CtlRun drawn = ctlTerminal(true, "put", in.toString());
    assertEquals(0, drawn.code(), drawn::toString);
    assertTrue(ID.matcher(drawn.lastLine()).matches() && drawn.lines().size() == 1, "stdout stays clean: " + drawn);
    assertTrue(drawn.stderr().startsWith("\rput ["), drawn::toString);
    assertTrue(drawn.stderr().contains("100% 17.0 MiB of 17.0 MiB"), drawn::toString);
    assertTrue(drawn.stderr().endsWith("\n"), drawn::toString);

    Path out = work.resolve("large.out");
    CtlRun get = ctlTerminal(true, "get", id, "-o", out.toString());
    assertEquals(0, get.code(), get::toString);
    assertTrue(get.stderr().startsWith("\rget ["), get::toString);
    assertArrayEquals(large, Files.readAllBytes(out));

    CtlRun getStdout = ctlTerminal(true, "get", id);
    assertArrayEquals(large, getStdout.stdoutBytes(), "the bar never goes to stdout");
    assertTrue(getStdout.stderr().contains("get ["), getStdout::toString);

    // Under 16 MiB there is no bar, even on a terminal.
    Path small = file("small.bin", random((int) (15 * MIB)));
    String smallId = putId(ctlTerminal(true, "put", small.toString()));
    ok(ctlTerminal(true, "get", smallId, "-o", work.resolve("small.out").toString()));

    ok(ctl("rm", id, drawn.lastLine(), smallId));
  }

  @Test
  void smallStandardInputDrawsNoProgressOnATerminal() {
    List<String> all = List.of("--socket", sock, "put", "-");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
    int code = Vineyardctl.run(new ByteArrayInputStream(random(10)), o, new PrintStream(err, true, StandardCharsets.UTF_8),
        Channels.newChannel(o), -1, true, all.toArray(String[]::new));
    assertEquals(0, code);
    assertEquals("", err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void aFailedNameBindingLeavesNoBlobBehind() throws IOException {
    long blobs = client.stats().blobCount();
    fails(ExitCodes.INVALID_ARGUMENT, ctl("put", file("orphan.bin", random(100)).toString(), "--name", ""));
    assertEquals(blobs, client.stats().blobCount(), "no orphan blob");
  }

  @Test
  void putOfANamedPipeStoresItsBytes() throws Exception {
    Path fifo = work.resolve("fifo");
    Process mk = new ProcessBuilder("mkfifo", fifo.toString()).redirectErrorStream(true).start();
    assertTrue(mk.waitFor(10, TimeUnit.SECONDS) && mk.exitValue() == 0, "mkfifo failed");
    byte[] content = random(5000);
    CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
      try {
        Files.write(fifo, content);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
    try {
      String id = putId(ctl("put", fifo.toString()));
      assertArrayEquals(content, ok(ctl("get", id)).stdoutBytes());
    } finally {
      try {
        writer.get(10, TimeUnit.SECONDS);
      } catch (ExecutionException | TimeoutException e) {
        // The tool read nothing; the writer's broken pipe (or block) is not what this test checks.
      }
    }
  }

  @Test
  void theIdPrintedIsThatOfANewBlobEachTime() throws IOException {
    Path in = file("same.bin", random(10));
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < 5; i++) {
      ids.add(putId(ctl("put", in.toString())));
    }
    assertEquals(5, ids.size());
    for (String id : ids) {
      assertTrue(ObjectId.parse(id).isBlob(), id);
      assertNotEquals(0, ObjectId.parse(id).value());
    }
  }
  // ---------------------------------------------------------------- small things a new user meets

  @Test
  void enumChoicesAreListedAsTheLowerCaseNamesUsersType() {
    CtlRun r = usageError(ctl("put", "--format", "parquet", "x"), "--format");
    assertTrue(r.stderr().contains("expected one of [blob, csv, arrow]"), r::toString);
    usageError(ctl("get", "x", "--format", "yaml"), "[blob, csv, arrow]");
  }

  @Test
  void aMistypedCommandGetsASuggestion() {
    CtlRun r = usageError(ctl("lss"), "unknown command 'lss'");
    assertTrue(r.stderr().contains("Did you mean: ls?"), r::toString);
    CtlRun inspect = usageError(ctl("inpsect", "x"), "unknown command 'inpsect'");
    assertTrue(inspect.stderr().contains("Did you mean: inspect?"), inspect::toString);
  }

  @Test
  void aSocketPathThatIsADirectoryOrAFileSaysSo() throws IOException {
    CtlRun dir = fails(ExitCodes.INVALID_ARGUMENT, raw(new byte[0], "--socket", work.toString(), "ls"));
    assertTrue(dir.stderr().contains(work + " is a directory, not a socket"), dir::toString);
    Path regular = file("not-a-socket", new byte[1]);
    CtlRun file = fails(ExitCodes.INVALID_ARGUMENT, raw(new byte[0], "--socket", regular.toString(), "stats"));
    assertTrue(file.stderr().contains(regular + " is a regular file, not a socket"), file::toString);
    // Nothing there at all is still "cannot connect".
    fails(ExitCodes.CANNOT_CONNECT, raw(new byte[0], "--socket", work.resolve("nothing.sock").toString(), "ls"));
  }

  @Test
  void inspectSortsMembersAndFieldsByNumberWithinTheName() throws IOException {
    ObjectMeta.Builder b = ObjectMeta.builder("test::Buffers");
    for (int i = 0; i <= 11; i++) {
      b.member("buffer_" + i, client.putBlob(random(8)));
      b.field("size_" + i, (long) i);
    }
    ObjectId id = client.putMeta(b.build());
    CtlRun r = ok(ctl("inspect", id.toString()));
    List<String> members = r.lines().stream().filter(l -> l.contains(": o")).map(l -> l.strip().split(":")[0]).toList();
    List<String> expected = java.util.stream.IntStream.rangeClosed(0, 11).mapToObj(i -> "buffer_" + i).toList();
    assertEquals(expected, members, r::toString);
    List<String> fields = r.lines().stream().filter(l -> l.contains(" = ")).map(l -> l.strip().split(" ")[0]).toList();
    assertEquals(expected.stream().map(m -> m.replace("buffer_", "size_")).toList(), fields, r::toString);

    List<String> jsonMembers = new ArrayList<>();
    json(ctl("--output", "json", "inspect", id.toString())).get("members").fieldNames().forEachRemaining(jsonMembers::add);
    assertEquals(expected, jsonMembers);
  }

  @Test
  void csvPutShowsTheShareOfTheFileReadInBothPasses() throws IOException {
    StringBuilder csv = new StringBuilder("id,name,score\n");
    for (int i = 0; csv.length() < 17 * MIB; i++) {
      csv.append(i).append(",name-").append(i).append(',').append(i * 0.5).append('\n');
    }
    Path in = Files.writeString(work.resolve("big.csv"), csv);
    CtlRun r = ctlTerminal(true, "put", "--format", "csv", in.toString());
    assertEquals(0, r.code(), r::toString);
    assertTrue(ID.matcher(r.lastLine()).matches() && r.lines().size() == 1, "stdout stays clean: " + r);
    String size = io.vineyard.MemorySize.format(Files.size(in));
    assertTrue(r.stderr().startsWith("\rput: reading types ["), r::toString);
    assertTrue(r.stderr().contains("put: storing values ["), r::toString);
    assertTrue(r.stderr().contains("100% " + size + " of " + size), r::toString);
    assertTrue(r.stderr().endsWith("\n"), r::toString);
    ok(ctl("rm", r.lastLine()));
  }
  // ---------------------------------------------------------------- one JSON vocabulary

  /** The keys docs/cli.md gives for each command's JSON, from its table under "JSON output". */
  private static java.util.Map<String, Set<String>> documentedKeys() throws IOException {
    List<String> lines = Files.readAllLines(Path.of(System.getProperty("user.dir")).getParent().resolve("docs/cli.md"));
    int start = lines.indexOf("## JSON output");
    assertTrue(start >= 0, "docs/cli.md has a JSON output section");
    java.util.Map<String, Set<String>> keys = new java.util.LinkedHashMap<>();
    Pattern key = Pattern.compile("`([a-z_]+)`");
    for (String line : lines.subList(start + 1, lines.size())) {
      if (line.startsWith("## ")) {
        break;
      }
      String[] cells = line.split("\\|");
      if (line.startsWith("| `") && cells.length >= 3) {
        Set<String> k = new HashSet<>();
        java.util.regex.Matcher m = key.matcher(cells[2]);
        while (m.find()) {
          k.add(m.group(1));
        }
        keys.put(cells[1].strip().replace("`", ""), k);
      }
    }
    return keys;
  }

  private static Set<String> keys(JsonNode o) {
    Set<String> k = new HashSet<>();
    o.fieldNames().forEachRemaining(k::add);
    return k;
  }

  @Test
  void everyCommandsJsonUsesTheKeysDocumentedInCliMd() throws IOException {
    java.util.Map<String, Set<String>> doc = documentedKeys();
    java.util.Map<String, Set<String>> seen = new java.util.LinkedHashMap<>();
    String name = uniqueName("vocabulary");
    JsonNode put = json(ctl("--output", "json", "put", file("v.bin", random(10)).toString(), "--name", name));
    seen.put("put", keys(put));
    String id = put.get("id").asText();
    Path csv = Files.writeString(work.resolve("v.csv"), "a,b\n1,x\n");
    JsonNode table = json(ctl("--output", "json", "put", "--format", "csv", csv.toString(), "--name", uniqueName("vt")));
    seen.put("put --format csv", keys(table));
    assertEquals(json(ctl("--output", "json", "inspect", table.get("id").asText())).get("size_bytes"), table.get("size_bytes"),
        "put and inspect give one size");
    seen.put("ls", keys(json(ctl("--output", "json", "ls")).get(0)));
    seen.put("inspect", keys(json(ctl("--output", "json", "inspect", id))));
    JsonNode located = json(ctl("--output", "json", "locate", id)).get(0);
    assertEquals(".", located.get("path").asText(), "the object's own path is . as in the table");
    seen.put("locate", keys(located));
    seen.put("stats", keys(json(ctl("--output", "json", "stats"))));
    seen.put("trim", keys(json(ctl("--output", "json", "trim"))));
    seen.put("instances", keys(json(ctl("--output", "json", "instances")).get(0)));
    String second = uniqueName("vocabulary");
    seen.put("name", keys(json(ctl("--output", "json", "name", id, second))));
    JsonNode dropped = json(ctl("--output", "json", "name", "--drop", second));
    assertTrue(dropped.get("dropped").asBoolean(), dropped::toString);
    seen.put("name --drop", keys(dropped));
    seen.put("persist", keys(json(ctl("--output", "json", "persist", id))));
    JsonNode global = json(ctl("--output", "json", "ls", "--global"));
    JsonNode mine = find(global, id);
    assertTrue(mine.get("persisted").asBoolean(), mine::toString);
    seen.put("ls --global", keys(mine));
    seen.put("migrate", keys(json(ctl("--output", "json", "migrate", id))));
    seen.put("gc", keys(json(ctl("--output", "json", "gc", "--older-than", "1h", "--dry-run"))));
    seen.put("rm", keys(json(ctl("--output", "json", "rm", id))));

    assertEquals(doc.keySet(), seen.keySet(), "every command's JSON is documented");
    for (String command : seen.keySet()) {
      assertEquals(doc.get(command), seen.get(command), command);
      for (String k : seen.get(command)) {
        assertFalse(k.equals("size") || k.equals("nbytes") || k.equals("rows") || k.equals("batches"), command + ": " + k);
      }
    }
  }
}
