package io.vineyard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vineyard.ObjectId;
import io.vineyard.client.IpcClient;
import io.vineyard.testing.DaemonProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Objects and their members: what {@code ls} shows, what {@code rm} takes along, what {@code gc}
 * collects. One daemon per test, since gc deletes whatever is unreachable.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class VineyardctlMembersIT {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path work;

  private DaemonProcess daemon;
  private IpcClient client;

  private void start(String... daemonFlags) throws IOException {
    daemon = DaemonProcess.start(Files.createDirectory(work.resolve("d")), "128Mi", daemonFlags);
    client = daemon.connect();
  }

  @Test
  void aListingCutByTheDaemonsLimitStillShowsTopLevelObjectsOnly() throws Exception {
    start("--list-limit", "3");
    String table = putTable(); // 1 table, 5 data frames and their blobs: members are created first
    ObjectId blob = client.putBlob(new byte[] {1});
    CtlRun ls = ctl("ls", "--output", "json").ok();
    JsonNode rows = JSON.readTree(ls.stdout());
    List<String> ids = new ArrayList<>();
    rows.forEach(r -> ids.add(r.get("id").asText()));
    assertEquals(List.of(table, blob.toString()), ids, ls.stdout());
  }

  @AfterEach
  void stop() throws IOException {
    if (client != null) {
      client.close();
    }
    if (daemon != null) {
      daemon.close();
    }
  }

  private CtlRun ctl(String... args) {
    List<String> all = new ArrayList<>(List.of("--socket", daemon.socket().toString()));
    all.addAll(List.of(args));
    return CtlRun.run(new byte[0], all.toArray(String[]::new));
  }

  /** A table of 10 rows in 5 batches: 1 table, 5 data frames, their column blobs. */
  private String putTable(String... extra) throws IOException {
    StringBuilder csv = new StringBuilder("n,s\n");
    for (int i = 0; i < 10; i++) {
      csv.append(i).append(",v").append(i).append('\n');
    }
    Path f = Files.writeString(work.resolve("t" + System.nanoTime() + ".csv"), csv);
    List<String> args = new ArrayList<>(List.of("put", "--format", "csv", "--batch-rows", "2", f.toString()));
    args.addAll(List.of(extra));
    return ctl(args.toArray(String[]::new)).ok().lastLine();
  }

  private Set<String> ids(CtlRun ls) {
    Set<String> ids = new HashSet<>();
    ls.ok().lines().stream().skip(1).forEach(l -> ids.add(l.substring(0, 17)));
    return ids;
  }

  private int objectCount() {
    return client.listObjects(null, 0).objects().size();
  }

  @Test
  void lsShowsTopLevelObjectsAndAllShowsMembersToo() throws IOException {
    start();
    String table = putTable("--name", "t");
    ObjectId blob = client.putBlob(new byte[10]);
    assertEquals(Set.of(table, blob.toString()), ids(ctl("ls")));
    Set<String> all = ids(ctl("ls", "--all"));
    assertTrue(all.size() > 10 && all.contains(table) && all.contains(blob.toString()), all::toString);

    // A type filter does not make members look top-level.
    assertEquals(Set.of(blob.toString()), ids(ctl("ls", "--typename", "vineyard::Blob")));
    assertTrue(ids(ctl("ls", "--all", "--typename", "vineyard::Blob")).size() > 5);
    assertEquals(Set.of(table), ids(ctl("ls", "--limit", "1")));

    JsonNode arr = JSON.readTree(ctl("ls", "--output", "json").ok().stdout());
    assertEquals(2, arr.size(), arr::toString);
  }

  @Test
  void rmOfATableDeletesItsMembersUnlessShared() throws IOException {
    start();
    int before = objectCount();
    String table = putTable();
    assertTrue(objectCount() > before + 10);
    CtlRun rm = ctl("rm", table).ok();
    assertTrue(rm.lines().size() > 10 && rm.lines().contains(table), rm::toString);
    assertEquals(before, objectCount(), "no members left behind");

    String kept = putTable();
    int withMembers = objectCount();
    assertEquals(List.of(kept), ctl("rm", kept, "--keep-members").ok().lines());
    assertEquals(withMembers - 1, objectCount());
  }

  @Test
  void gcDeletesUnnamedUnreferencedObjectsOlderThanTheAgeGiven() throws Exception {
    start();
    String orphaned = putTable();
    ctl("rm", orphaned, "--keep-members").ok(); // leaves its 5 batches, with their blobs
    Set<String> batches = ids(ctl("ls"));
    assertEquals(5, batches.size(), batches::toString);
    String named = putTable("--name", "keep-me");
    ObjectId persisted = client.putBlob(new byte[5]);
    ctl("persist", persisted.toString()).ok();
    Thread.sleep(1500);
    ObjectId young = client.putBlob(new byte[7]);
    int before = objectCount();

    // Nothing is old enough.
    assertEquals(List.of(), ctl("gc", "--older-than", "1h").ok().lines());
    // A dry run names the old orphans and deletes nothing.
    CtlRun dry = ctl("gc", "--older-than", "1s", "--dry-run").ok();
    assertEquals(batches, new HashSet<>(dry.lines()), dry::toString);
    assertEquals(before, objectCount());
    JsonNode dryJson = JSON.readTree(ctl("--output", "json", "gc", "--older-than", "1s", "--dry-run").ok().stdout());
    assertTrue(dryJson.get("dry_run").asBoolean() && dryJson.get("deleted").size() == 5, dryJson::toString);

    CtlRun gc = ctl("gc", "--older-than", "1s").ok();
    assertTrue(new HashSet<>(gc.lines()).containsAll(batches) && gc.lines().size() > 5, "the batches and their blobs: " + gc);
    assertEquals(Set.of(named, persisted.toString(), young.toString()), ids(ctl("ls")));
    assertEquals(before - gc.lines().size(), objectCount());

    // Any age: the young orphan too, never the named or the persisted one.
    assertEquals(List.of(young.toString()), ctl("gc", "--older-than", "0s").ok().lines());
    assertEquals(Set.of(named, persisted.toString()), ids(ctl("ls")));

    // A usage error, as the others: what is wrong, then where to look; nothing deleted, nothing on stdout.
    CtlRun bad = ctl("gc", "--older-than", "12x");
    assertEquals(ExitCodes.INVALID_ARGUMENT, bad.code(), bad::toString);
    assertEquals(0, bad.stdoutBytes().length, bad::toString);
    assertEquals(List.of("vineyardctl: Invalid value for option '--older-than': '12x' is not an age: give a number and a"
        + " unit, s, m, h or d (such as 30s, 10m, 1h, 2d)", "Try 'vineyardctl gc --help' for more."), bad.stderr().lines().toList());
    assertFalse(ctl("gc").code() == 0, "--older-than is required");
  }
}
