package io.vineyard.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vineyard.InstanceInfo;
import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.client.IpcClient;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.EtcdProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster commands of {@code vineyardctl} ({@code instances}, {@code persist}, {@code locate},
 * {@code migrate}, {@code ls --global}) and {@code --rpc}, run in-process through {@link
 * Vineyardctl#run} against two real daemons (A and B) sharing metadata in a real etcd.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class VineyardctlClusterIT {

  private static final Pattern ID = Pattern.compile("o[0-9a-f]{16}");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Random RANDOM = new Random(0xc105);

  @TempDir static Path clusterDir;
  @TempDir Path work;

  private static EtcdProcess etcd;
  private static DaemonProcess a;
  private static DaemonProcess b;
  private static IpcClient ca;
  private static IpcClient cb;
  private static InstanceInfo infoA;
  private static InstanceInfo infoB;
  private static String sockA;
  private static String sockB;
  private static int unique;

  @BeforeAll
  static void startCluster() throws IOException {
    assertTrue(clusterDir.resolve("a/vineyard.sock").toString().length() < 100, "socket path too long: " + clusterDir);
    etcd = EtcdProcess.start(clusterDir);
    // A prefix of its own, so that nothing another run left in etcd shows up here.
    String prefix = "/vineyardctl-it-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    String[] flags = {
      "--meta", "etcd", "--etcd-endpoints", etcd.endpoint(), "--etcd-prefix", prefix, "--etcd-lease-ttl", "3"
    };
    a = DaemonProcess.start(Files.createDirectory(clusterDir.resolve("a")), "256Mi", flags);
    b = DaemonProcess.start(Files.createDirectory(clusterDir.resolve("b")), "256Mi", flags);
    ca = a.connect();
    cb = b.connect();
    infoA = a.info();
    infoB = b.info();
    sockA = a.socket().toString();
    sockB = b.socket().toString();
    assertNotEquals(infoA.id(), infoB.id(), "two instances with one id");
    assertFalse(infoA.rpcEndpoint().isEmpty(), infoA::toString);
  }

  @AfterAll
  static void stopCluster() throws Exception {
    AssertionError first = null;
    for (AutoCloseable c : new AutoCloseable[] {ca, cb, a, b, etcd}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception | AssertionError e) {
        if (first == null) {
          first = new AssertionError("cleaning up", e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  // ---------------------------------------------------------------- helpers

  /** Runs exactly these arguments. */
  private static CtlRun raw(String... args) {
    return CtlRun.run(new byte[0], args);
  }

  /** Runs against the daemon on {@code socket}. */
  private static CtlRun on(String socket, String... args) {
    List<String> all = new ArrayList<>(List.of("--socket", socket));
    all.addAll(List.of(args));
    return raw(all.toArray(String[]::new));
  }

  /** Runs against A's gRPC port. */
  private static CtlRun rpcA(String... args) {
    List<String> all = new ArrayList<>(List.of("--rpc", infoA.rpcEndpoint()));
    all.addAll(List.of(args));
    return raw(all.toArray(String[]::new));
  }

  private static CtlRun ok(CtlRun r) {
    return r.ok();
  }

  /** A failure: this exit status, nothing on stdout, one line on stderr without a stack trace. */
  private static CtlRun fails(int code, CtlRun r) {
    return r.fails(code);
  }

  private static JsonNode json(CtlRun r) throws IOException {
    ok(r);
    return JSON.readTree(r.stdout());
  }

  private static String idOf(CtlRun r) {
    ok(r);
    String id = r.lastLine();
    assertTrue(ID.matcher(id).matches(), () -> "the last line is an id: " + r);
    return id;
  }

  private static byte[] random(int n) {
    byte[] bytes = new byte[n];
    RANDOM.nextBytes(bytes);
    return bytes;
  }

  private static String uniqueName(String prefix) {
    return prefix + "-" + (++unique);
  }

  /** A blob put on A by {@code vineyardctl put FILE --name NAME}. */
  private record Put(String id, String name, byte[] content) {}

  private Put putOnA(int size) throws IOException {
    byte[] content = random(size);
    String name = uniqueName("cluster");
    Path file = Files.write(work.resolve(name + ".bin"), content);
    return new Put(idOf(on(sockA, "put", file.toString(), "--name", name)), name, content);
  }

  /** The table row that starts with {@code first} (a whole first column). */
  private static String row(CtlRun r, String first) {
    return r.lines().stream().filter(l -> l.startsWith(first + " ")).findFirst()
        .orElseThrow(() -> new AssertionError(first + " not listed: " + r));
  }

  private static boolean listed(CtlRun r, String first) {
    return r.lines().stream().anyMatch(l -> l.startsWith(first + " "));
  }

  private static JsonNode find(JsonNode arr, String key, String value) {
    for (JsonNode o : arr) {
      if (value.equals(o.get(key).asText())) {
        return o;
      }
    }
    throw new AssertionError(key + "=" + value + " not in " + arr);
  }

  private static boolean contains(JsonNode arr, String key, String value) {
    for (JsonNode o : arr) {
      if (value.equals(o.get(key).asText())) {
        return true;
      }
    }
    return false;
  }

  // ---------------------------------------------------------------- instances

  @Test
  void instancesListsBothDaemonsFromEitherSide() throws IOException {
    for (String sock : List.of(sockA, sockB)) {
      CtlRun t = ok(on(sock, "instances"));
      List<String> lines = t.lines();
      assertTrue(lines.getFirst().matches("ID +HOST +SOCKET +RPC +USED +CAPACITY +STARTED"), t::toString);
      assertEquals(3, lines.size(), t::toString);
      for (InstanceInfo i : List.of(infoA, infoB)) {
        String row = row(t, Long.toString(i.id()));
        String[] cells = row.split(" {2,}");
        assertEquals(7, cells.length, row);
        assertEquals(i.hostname(), cells[1], row);
        assertEquals(i.ipcSocket(), cells[2], row);
        assertEquals(Path.of(i == infoA ? sockA : sockB).toAbsolutePath().toString(), cells[2], row);
        assertEquals(i.rpcEndpoint(), cells[3], row);
        assertTrue(cells[4].matches("[0-9.]+ (B|KiB|MiB)"), row);
        assertEquals("256 MiB", cells[5], row);
        assertStartedRecently(Instant.parse(cells[6]));
      }

      JsonNode arr = json(on(sock, "instances", "--output", "json"));
      assertTrue(arr.isArray(), arr::toString);
      assertEquals(2, arr.size(), arr::toString);
      for (InstanceInfo i : List.of(infoA, infoB)) {
        JsonNode e = find(arr, "instance_id", Long.toString(i.id()));
        assertTrue(e.get("instance_id").isIntegralNumber(), e::toString);
        assertEquals(i.hostname(), e.get("hostname").asText());
        assertEquals(i.ipcSocket(), e.get("ipc_socket").asText());
        assertEquals(i.rpcEndpoint(), e.get("rpc_endpoint").asText());
        assertEquals(256L << 20, e.get("capacity_bytes").asLong());
        assertTrue(e.get("used_bytes").isIntegralNumber() && e.get("used_bytes").asLong() >= 0, e::toString);
        assertEquals(i.startedAt().toEpochMilli() / 1000, Instant.parse(e.get("started_at").asText()).getEpochSecond());
        assertEquals(i.daemonVersion(), e.get("daemon_version").asText());
        assertEquals(Set.of("instance_id", "hostname", "ipc_socket", "rpc_endpoint", "used_bytes", "capacity_bytes", "started_at",
            "daemon_version"), fieldNames(e));
      }
    }
  }

  private static void assertStartedRecently(Instant started) {
    Instant now = Instant.now();
    assertTrue(started.isBefore(now.plusSeconds(5)) && started.isAfter(now.minus(Duration.ofMinutes(10))),
        "started at " + started + ", now " + now);
  }

  private static Set<String> fieldNames(JsonNode o) {
    Set<String> names = new java.util.HashSet<>();
    o.fieldNames().forEachRemaining(names::add);
    return names;
  }

  // ---------------------------------------------------------------- persist, ls --global, inspect

  @Test
  void persistMakesAnObjectOfAVisibleFromBByListingIdAndName() throws IOException {
    Put x = putOnA(5000);

    // Before persist, B knows neither the name nor the id, and --global does not list it.
    CtlRun unbound = fails(ExitCodes.NOT_FOUND, on(sockB, "inspect", x.name()));
    assertTrue(unbound.stderr().contains(x.name()), unbound::toString);
    fails(ExitCodes.NOT_FOUND, on(sockB, "inspect", x.id()));
    assertFalse(listed(ok(on(sockB, "ls", "--global")), x.id()), "not persisted yet");

    CtlRun persist = ok(on(sockA, "persist", x.name()));
    assertEquals(0, persist.stdoutBytes().length, persist::toString);
    ok(on(sockA, "persist", x.id())); // again, by id: nothing changes

    // ls --global on B: the same columns as ls, with A as the instance and the name.
    CtlRun global = ok(on(sockB, "ls", "--global"));
    assertTrue(global.lines().getFirst().matches("ID +TYPENAME +SIZE +INSTANCE +NAMES"), global::toString);
    String row = row(global, x.id());
    assertTrue(row.matches(Pattern.quote(x.id()) + " +vineyard::Blob +4\\.9 KiB +" + infoA.id() + " +" + Pattern.quote(x.name())),
        row);
    // ... and not in B's own listing, which only holds B's objects.
    assertFalse(listed(ok(on(sockB, "ls")), x.id()), "B does not hold it");
    // The same from A.
    assertTrue(listed(ok(on(sockA, "ls", "--global")), x.id()));

    JsonNode arr = json(on(sockB, "ls", "--global", "--output", "json"));
    JsonNode e = find(arr, "id", x.id());
    assertEquals("vineyard::Blob", e.get("typename").asText());
    assertEquals(5000, e.get("size_bytes").asLong());
    assertEquals(infoA.id(), e.get("instance_id").asLong());
    assertEquals(x.name(), e.get("names").get(0).asText());
    JsonNode filtered = json(on(sockB, "--output", "json", "ls", "--global", "--typename", "no::such*"));
    assertTrue(filtered.isArray() && filtered.isEmpty(), filtered::toString);

    // inspect on B resolves the name cluster-wide and shows A as the instance.
    for (String ref : List.of(x.name(), x.id())) {
      CtlRun inspect = ok(on(sockB, "inspect", ref));
      assertEquals(List.of(x.id() + "  vineyard::Blob  4.9 KiB  instance " + infoA.id()), inspect.lines(), inspect::toString);
    }
    JsonNode meta = json(on(sockB, "inspect", x.name(), "--output", "json"));
    assertEquals(x.id(), meta.get("id").asText());
    assertEquals(infoA.id(), meta.get("instance_id").asLong());
    assertEquals(5000, meta.get("size_bytes").asLong());
  }

  @Test
  void persistPrintsOnlyWhatWasAskedFor() throws IOException {
    Put x = putOnA(100);
    CtlRun verbose = on(sockA, "persist", x.id(), "--verbose");
    assertEquals(0, verbose.code(), verbose::toString);
    assertEquals(0, verbose.stdoutBytes().length, "stdout stays clean: " + verbose);
    assertTrue(verbose.stderr().startsWith("persisted " + x.id() + " in "), verbose::toString);

    JsonNode j = json(on(sockA, "--output", "json", "persist", x.name()));
    assertEquals(x.id(), j.get("id").asText());
    assertTrue(j.get("persisted").asBoolean(), j::toString);
    assertEquals(2, j.size(), j::toString);
  }

  @Test
  void persistOfAnUnknownObjectIsNotFound() {
    CtlRun unknown = fails(ExitCodes.NOT_FOUND, on(sockA, "persist", "o8000000000000001"));
    assertTrue(unknown.stderr().contains("o8000000000000001"), unknown::toString);
    CtlRun unbound = fails(ExitCodes.NOT_FOUND, on(sockA, "persist", uniqueName("unbound")));
    assertTrue(unbound.stderr().contains("no object is named"), unbound::toString);
    fails(ExitCodes.NOT_FOUND, on(sockB, "locate", "o8000000000000001"));
    fails(ExitCodes.NOT_FOUND, on(sockB, "migrate", "o8000000000000001"));
    fails(ExitCodes.NOT_FOUND, on(sockB, "migrate", uniqueName("unbound")));
  }

  // ---------------------------------------------------------------- locate

  @Test
  void locateShowsTheOwningInstanceOfEveryPart() throws IOException {
    Put x = putOnA(3000);
    ok(on(sockA, "persist", x.name()));

    for (String sock : List.of(sockA, sockB)) {
      CtlRun t = ok(on(sock, "locate", x.name()));
      assertTrue(t.lines().getFirst().matches("PATH +ID +TYPENAME +SIZE +INSTANCE +HOST +RPC"), t::toString);
      assertEquals(2, t.lines().size(), t::toString);
      assertEquals(List.of(".", x.id(), "vineyard::Blob", "2.9 KiB", Long.toString(infoA.id()), infoA.hostname(),
          infoA.rpcEndpoint()), List.of(t.lines().get(1).split(" {2,}")), t::toString);
    }

    // An object of several parts: one row each, members by their path.
    ObjectId left = ca.putBlob(random(1000));
    ObjectId right = ca.putBlob(random(70_000));
    ObjectId pair = ca.putMeta(ObjectMeta.builder("test::Pair").field("k", 1L).member("left", left).member("right", right).build());
    String pairName = uniqueName("pair");
    ca.putName(pairName, pair);
    ok(on(sockA, "persist", pairName));

    CtlRun t = ok(on(sockB, "locate", pairName));
    Map<String, List<String>> byPath = new HashMap<>();
    for (String line : t.lines().subList(1, t.lines().size())) {
      List<String> cells = List.of(line.split(" {2,}"));
      assertEquals(7, cells.size(), line);
      byPath.put(cells.get(0), cells);
    }
    assertEquals(Set.of(".", "left", "right"), byPath.keySet(), t::toString);
    assertEquals(List.of(".", pair.toString(), "test::Pair", MemorySize.format(71_000)), byPath.get(".").subList(0, 4));
    assertEquals(List.of("left", left.toString(), "vineyard::Blob", "1000 B"), byPath.get("left").subList(0, 4));
    assertEquals(List.of("right", right.toString(), "vineyard::Blob", "68.4 KiB"), byPath.get("right").subList(0, 4));
    for (List<String> cells : byPath.values()) {
      assertEquals(List.of(Long.toString(infoA.id()), infoA.hostname(), infoA.rpcEndpoint()), cells.subList(4, 7), t::toString);
    }

    JsonNode arr = json(on(sockB, "locate", pair.toString(), "--output", "json"));
    assertEquals(3, arr.size(), arr::toString);
    JsonNode root = find(arr, "path", ".");
    assertEquals(pair.toString(), root.get("id").asText());
    assertEquals(71_000, root.get("size_bytes").asLong());
    JsonNode r = find(arr, "path", "right");
    assertEquals(right.toString(), r.get("id").asText());
    assertEquals("vineyard::Blob", r.get("typename").asText());
    assertEquals(70_000, r.get("size_bytes").asLong());
    for (JsonNode p : arr) {
      assertEquals(infoA.id(), p.get("instance_id").asLong(), p::toString);
      assertEquals(infoA.hostname(), p.get("hostname").asText(), p::toString);
      assertEquals(infoA.rpcEndpoint(), p.get("rpc_endpoint").asText(), p::toString);
      assertEquals(Set.of("path", "id", "typename", "size_bytes", "instance_id", "hostname", "rpc_endpoint"), fieldNames(p));
    }
  }

  // ---------------------------------------------------------------- migrate

  @Test
  void migratePrintsTheLocalIdWhoseBytesAreTheSame() throws IOException {
    Put x = putOnA(200_000);
    ok(on(sockA, "persist", x.name()));

    CtlRun migrate = ok(on(sockB, "migrate", x.name()));
    assertEquals(1, migrate.lines().size(), migrate::toString);
    String local = idOf(migrate);
    assertNotEquals(x.id(), local, "a replica on B has an id of B's");
    assertTrue(ObjectId.parse(local).isBlob(), local);

    Path out = work.resolve("migrated.bin");
    ok(on(sockB, "get", local, "-o", out.toString()));
    assertArrayEquals(x.content(), Files.readAllBytes(out));
    assertArrayEquals(x.content(), ok(on(sockB, "get", local)).stdoutBytes());
    // The replica is B's own.
    assertEquals(infoB.id(), json(on(sockB, "inspect", local, "--output", "json")).get("instance_id").asLong());
    assertTrue(listed(ok(on(sockB, "ls")), local), "B holds the replica");

    // Migrating it again gives the same replica; by id as by name.
    assertEquals(local, idOf(on(sockB, "migrate", x.id())));

    // An object that is already local is its own migration, on either side.
    assertEquals(x.id(), idOf(on(sockA, "migrate", x.id())));
    assertEquals(local, idOf(on(sockB, "migrate", local)));

    // JSON names both (by name, now that B has a replica, the name means the replica: see below);
    // --verbose puts the time on stderr, and stdout still ends with the id alone.
    JsonNode j = json(on(sockB, "--output", "json", "migrate", x.id()));
    assertEquals(local, j.get("id").asText());
    assertEquals(x.id(), j.get("source_id").asText());
    CtlRun verbose = on(sockB, "migrate", x.id(), "-v");
    assertEquals(0, verbose.code(), verbose::toString);
    assertEquals(List.of(local), verbose.lines(), verbose::toString);
    assertTrue(verbose.stderr().matches("migrated " + x.id() + " to " + local + " \\(195 KiB\\) in [0-9.]+ s\\R"), verbose::toString);
  }

  @Test
  void aPersistedNameResolvesToTheLocalReplicaAfterAMigrateAndOtherwiseSaysWhereItLives() throws IOException {
    Put x = putOnA(3000);
    ok(on(sockA, "persist", x.name()));

    // Not migrated yet: get and rm on B say where it lives, and inspect still shows it.
    for (String[] cmd : List.of(new String[] {"get", x.name()}, new String[] {"rm", x.name()}, new String[] {"get", x.id()})) {
      List<String> args = new ArrayList<>(List.of(cmd));
      CtlRun r = fails(ExitCodes.NOT_FOUND, on(sockB, args.toArray(String[]::new)));
      assertTrue(r.stderr().contains("lives on instance " + infoA.id()), r::toString);
      assertTrue(r.stderr().contains("migrate it here first: vineyardctl migrate " + cmd[1]), r::toString);
    }
    ok(on(sockB, "inspect", x.name()));
    assertTrue(ca.exists(ObjectId.parse(x.id())));

    // Migrated: the name means B's replica, for get and rm alike.
    String local = idOf(on(sockB, "migrate", x.name()));
    assertArrayEquals(x.content(), ok(on(sockB, "get", x.name())).stdoutBytes());
    assertEquals(local, json(on(sockB, "--output", "json", "inspect", x.name())).get("id").asText());
    assertEquals(List.of(local), ok(on(sockB, "rm", x.name())).lines());
    assertFalse(cb.exists(ObjectId.parse(local)));
    assertTrue(ca.exists(ObjectId.parse(x.id())), "A's object stays");
    // The replica gone, the name points at A's object again.
    CtlRun again = fails(ExitCodes.NOT_FOUND, on(sockB, "get", x.name()));
    assertTrue(again.stderr().contains("lives on instance " + infoA.id()), again::toString);
  }

  @Test
  void migrateOfAnObjectWithMembersCopiesEveryBlob() throws IOException {
    byte[] leftBytes = random(1000);
    byte[] rightBytes = random(300_000);
    ObjectId left = ca.putBlob(leftBytes);
    ObjectId right = ca.putBlob(rightBytes);
    ObjectId pair = ca.putMeta(ObjectMeta.builder("test::Pair").field("k", 7L).member("left", left).member("right", right).build());
    ok(on(sockA, "persist", pair.toString()));

    String local = idOf(on(sockB, "migrate", pair.toString()));
    assertNotEquals(pair.toString(), local);
    JsonNode meta = json(on(sockB, "inspect", local, "--output", "json"));
    assertEquals("test::Pair", meta.get("typename").asText());
    assertEquals(7, meta.get("fields").get("k").asLong());
    assertEquals(infoB.id(), meta.get("instance_id").asLong());
    String localLeft = meta.get("members").get("left").get("id").asText();
    String localRight = meta.get("members").get("right").get("id").asText();
    assertArrayEquals(leftBytes, ok(on(sockB, "get", localLeft)).stdoutBytes());
    assertArrayEquals(rightBytes, ok(on(sockB, "get", localRight)).stdoutBytes());

    // locate on B now sees B's replica and its parts on B.
    JsonNode placements = json(on(sockB, "locate", local, "--output", "json"));
    assertEquals(3, placements.size(), placements::toString);
    for (JsonNode p : placements) {
      assertEquals(infoB.id(), p.get("instance_id").asLong(), placements::toString);
      assertEquals(infoB.rpcEndpoint(), p.get("rpc_endpoint").asText(), placements::toString);
    }
  }

  // ---------------------------------------------------------------- --rpc

  @Test
  void readOnlyCommandsWorkOverRpc() throws IOException {
    Put x = putOnA(7000);
    // Something only B holds, which A's listing must not show.
    String onlyB = idOf(on(sockB, "put", Files.write(work.resolve("b.bin"), random(10)).toString()));

    CtlRun ls = ok(rpcA("ls"));
    assertTrue(row(ls, x.id()).matches(Pattern.quote(x.id()) + " +vineyard::Blob +6\\.8 KiB +" + infoA.id() + " +"
        + Pattern.quote(x.name())), ls::toString);
    assertFalse(listed(ls, onlyB), ls::toString);
    // The option after the command, and JSON.
    JsonNode arr = json(raw("ls", "--rpc", infoA.rpcEndpoint(), "--output", "json"));
    assertEquals(x.name(), find(arr, "id", x.id()).get("names").get(0).asText());
    assertFalse(contains(arr, "id", onlyB), arr::toString);
    // --rpc wins over --socket for the commands that accept it.
    assertFalse(listed(ok(raw("--socket", sockB, "--rpc", infoA.rpcEndpoint(), "ls")), onlyB));

    for (String ref : List.of(x.name(), x.id())) {
      CtlRun inspect = ok(rpcA("inspect", ref));
      assertEquals(List.of(x.id() + "  vineyard::Blob  6.8 KiB  instance " + infoA.id()), inspect.lines(), inspect::toString);
    }
    assertEquals(7000, json(rpcA("--output", "json", "inspect", x.name())).get("size_bytes").asLong());

    CtlRun instances = ok(rpcA("instances"));
    assertEquals(3, instances.lines().size(), instances::toString);
    assertTrue(row(instances, Long.toString(infoB.id())).contains(infoB.rpcEndpoint()), instances::toString);
    assertTrue(row(instances, Long.toString(infoA.id())).contains(infoA.ipcSocket()), instances::toString);
    assertEquals(2, json(rpcA("instances", "--output", "json")).size());

    CtlRun locate = ok(rpcA("locate", x.name()));
    assertEquals(List.of(".", x.id(), "vineyard::Blob", "6.8 KiB", Long.toString(infoA.id()), infoA.hostname(),
        infoA.rpcEndpoint()), List.of(locate.lines().get(1).split(" {2,}")), locate::toString);

    JsonNode stats = json(rpcA("stats", "--output", "json"));
    assertEquals(infoA.id(), stats.get("instance_id").asLong());
    assertEquals(256L << 20, stats.get("capacity_bytes").asLong());
    assertTrue(ok(raw("--rpc", infoB.rpcEndpoint(), "stats")).stdout().contains("instance            " + infoB.id() + "\n"));

    // B's gRPC port, asked for the cluster-wide listing, shows what A persisted.
    ok(on(sockA, "persist", x.id()));
    assertTrue(listed(ok(raw("--rpc", infoB.rpcEndpoint(), "ls", "--global")), x.id()));
    assertFalse(listed(ok(raw("--rpc", infoB.rpcEndpoint(), "ls")), x.id()));
  }

  @Test
  void commandsThatNeedTheSocketRefuseRpc() throws IOException {
    Path file = Files.write(work.resolve("refused.bin"), random(100));
    long blobs = ca.stats().blobCount();
    Put x = putOnA(10);
    blobs++;
    List<String[]> refused = List.of(
        new String[] {"put", file.toString()},
        new String[] {"get", x.id()},
        new String[] {"rm", x.id()},
        new String[] {"name", x.id(), uniqueName("n")},
        new String[] {"persist", x.id()},
        new String[] {"migrate", x.id()});
    for (String[] args : refused) {
      CtlRun r = fails(ExitCodes.INVALID_ARGUMENT, rpcA(args));
      assertEquals("vineyardctl: " + args[0] + " needs the local daemon's socket and cannot use --rpc (which only ls,"
          + " inspect, instances, locate and stats accept)\n", r.stderr(), r::toString);
    }
    // The option after the command is refused the same way, even with --socket given too.
    fails(ExitCodes.INVALID_ARGUMENT, raw("--socket", sockA, "put", file.toString(), "--rpc", infoA.rpcEndpoint()));
    // Nothing was stored, deleted or bound.
    assertEquals(blobs, ca.stats().blobCount());
    assertTrue(ca.exists(ObjectId.parse(x.id())));
  }

  @Test
  void rpcToNothingCannotConnect() {
    for (String cmd : List.of("ls", "instances", "stats")) {
      CtlRun r = fails(ExitCodes.CANNOT_CONNECT, raw("--rpc", "127.0.0.1:1", cmd));
      assertTrue(r.stderr().contains("127.0.0.1:1"), r::toString);
    }
    fails(ExitCodes.CANNOT_CONNECT, raw("--rpc", "127.0.0.1:1", "inspect", "o8000000000000001"));
    // Not an endpoint at all is an invalid argument.
    for (String bad : List.of("127.0.0.1:http", "127.0.0.1:70000", "::1:5")) {
      CtlRun r = fails(ExitCodes.INVALID_ARGUMENT, raw("--rpc", bad, "ls"));
      assertTrue(r.stderr().contains(bad), r::toString);
    }
  }

  @Test
  void theNewCommandsHaveHelpWithExamples() {
    for (String cmd : List.of("instances", "persist", "locate", "migrate")) {
      for (CtlRun r : List.of(raw(cmd, "--help"), raw("help", cmd))) {
        ok(r);
        assertTrue(r.stdout().startsWith("Usage: vineyardctl " + cmd), r::toString);
        assertTrue(r.stdout().contains("Examples:"), r::toString);
        assertTrue(r.stdout().contains("vineyardctl " + cmd + " "), "an example of " + cmd + ": " + r);
      }
    }
    CtlRun top = ok(raw("--help"));
    for (String s : List.of("instances", "persist", "locate", "migrate", "--rpc")) {
      assertTrue(top.stdout().contains(s), s + " missing: " + top);
    }
    assertTrue(ok(raw("ls", "--help")).stdout().contains("--global"));
  }
}
