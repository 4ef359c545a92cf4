package io.vineyard.server.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ObjectId;
import io.vineyard.client.Blob;
import io.vineyard.client.BlobWriter;
import io.vineyard.client.IpcClient;
import io.vineyard.internal.Libc;
import io.vineyard.internal.UnixSocketConnection;
import io.vineyard.proto.ipc.CreateBlobRequest;
import io.vineyard.proto.ipc.GetBlobsRequest;
import io.vineyard.proto.ipc.ProtocolVersion;
import io.vineyard.proto.ipc.RegisterRequest;
import io.vineyard.proto.ipc.Request;
import io.vineyard.proto.ipc.Response;
import io.vineyard.server.testing.OtherUsers;
import io.vineyard.testing.DaemonProcess;
import java.io.File;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * With {@code --isolation user}, a client that creates blobs cannot reach another user's: each user
 * writes in regions of its own, and gets only read-only descriptors of the others'. Two clients run
 * as two other users ({@code setpriv}, so root only; skipped otherwise).
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class IsolationIT {

  private static final int ALICE = 54_331;
  private static final int BOB = 54_332;
  private static final int SIZE = 1 << 20;

  static Path dir;
  static String classPath;
  static DaemonProcess daemon;

  @BeforeAll
  static void start() throws Exception {
    OtherUsers.assumeRootWithSetpriv();
    dir = OtherUsers.traversableDirectory(null, "vy-iso-");
    classPath = readableClassPath(dir.resolve("cp"));
    Path work = OtherUsers.traversableDirectory(dir, "d");
    daemon = DaemonProcess.start(work, "64Mi", "--isolation", "user", "--socket-mode", "rw-rw-rw-");
  }

  @AfterAll
  static void stop() throws IOException {
    if (daemon != null) {
      daemon.close();
    }
    OtherUsers.delete(dir);
  }

  /** A copy of this JVM's class path that other users can read (the originals may sit under /root). */
  private static String readableClassPath(Path into) throws IOException {
    List<String> entries = new ArrayList<>();
    int n = 0;
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      Path src = Path.of(e);
      if (!Files.exists(src)) {
        continue;
      }
      Path dst = into.resolve((n++) + "-" + src.getFileName());
      try (var files = Files.walk(src)) {
        for (Path p : (Iterable<Path>) files::iterator) {
          Path t = dst.resolve(src.relativize(p).toString());
          if (Files.isDirectory(p)) {
            Files.createDirectories(t);
          } else {
            Files.createDirectories(t.getParent());
            Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
          }
        }
      }
      entries.add(dst.toString());
    }
    try (var files = Files.walk(into)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
      }
    }
    return String.join(File.pathSeparator, entries);
  }

  /** Runs {@link #main} as {@code uid}; returns its last line of output. */
  private static String runAs(int uid, String... args) throws Exception {
    String java = ProcessHandle.current().info().command().orElseThrow();
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups",
        java, "-XX:-UsePerfData", "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
        "-cp", classPath, IsolationIT.class.getName()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the client of uid " + uid + " did not finish");
    String out = new String(p.getInputStream().readAllBytes()).trim();
    assertEquals(0, p.exitValue(), out);
    List<String> lines = out.lines().toList();
    return lines.getLast();
  }

  /** The child: {@code put SOCKET} or {@code attack SOCKET ID}. */
  public static void main(String[] a) throws Exception {
    Path socket = Path.of(a[1]);
    if (a[0].equals("put")) {
      try (IpcClient c = IpcClient.connect(socket)) {
        try (BlobWriter w = c.createBlob(SIZE)) {
          w.segment().fill((byte) 0xAA);
          System.out.println(w.seal());
        }
      }
      return;
    }
    // attack: fill a blob of my own in place, then try to reach the other user's sealed blob.
    long victim = ObjectId.parse(a[2]).value();
    try (UnixSocketConnection c = UnixSocketConnection.connect(socket, Duration.ofSeconds(30))) {
      c.writeFrame(Request.newBuilder().setRequestId(1).setRegister(
          RegisterRequest.newBuilder().setVersion(ProtocolVersion.PROTOCOL_VERSION_2).setClientName("bob")).build());
      Response.parseFrom(c.readFrame(1 << 20));
      c.writeFrame(Request.newBuilder().setRequestId(2).setCreateBlob(CreateBlobRequest.newBuilder().setSize(SIZE)).build());
      Response mine = Response.parseFrom(c.readFrame(1 << 20));
      int myRegion = mine.getCreateBlob().getBlob().getRegion();
      int writableFd = c.takeFd();
      c.writeFrame(Request.newBuilder().setRequestId(3).setGetBlobs(GetBlobsRequest.newBuilder().addIds(victim)).build());
      Response theirs = Response.parseFrom(c.readFrame(1 << 20));
      var loc = theirs.getGetBlobs().getBlobs(0);
      int readOnlyFd = c.takeFd();
      // My writable descriptor maps my own region: scribbling at the victim's offset hits my memory.
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment rw = Libc.map(writableFd, mine.getNewRegions(0).getSize(), true, false, arena);
        rw.asSlice(loc.getOffset(), loc.getSize()).fill((byte) 0x55);
      }
      long w = Libc.mmap(theirs.getNewRegions(0).getSize(), Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, readOnlyFd, 0);
      System.out.println("my_region=" + myRegion + " victim_region=" + loc.getRegion()
          + " victim_region_writable=" + theirs.getNewRegions(0).getWritable() + " writable_map_of_victim=" + (w != -1));
    }
  }

  @Test
  void aUserThatCreatesBlobsCannotReachAnotherUsersBlobs() throws Exception {
    ObjectId alices = ObjectId.parse(runAs(ALICE, "put", daemon.socket().toString()));
    String report = runAs(BOB, "attack", daemon.socket().toString(), alices.toString());
    assertTrue(report.contains("victim_region_writable=false"), report);
    assertTrue(report.contains("writable_map_of_victim=false"), report);
    String mine = report.replaceAll(".*my_region=(\\d+).*", "$1");
    String theirs = report.replaceAll(".*victim_region=(\\d+).*", "$1");
    assertTrue(!mine.equals(theirs), "each user writes in a region of its own: " + report);
    try (IpcClient root = daemon.connect(); Blob b = root.getBlob(alices)) {
      MemorySegment s = b.segment();
      for (long i = 0; i < SIZE; i += 4096) {
        assertEquals((byte) 0xAA, s.get(ValueLayout.JAVA_BYTE, i), "alice's blob at " + i);
      }
      assertEquals((byte) 0xAA, s.get(ValueLayout.JAVA_BYTE, SIZE - 1));
    }
  }

  @Test
  void usersRegionsDrawOnTheOneBudget() throws Exception {
    // Another user's first in-place blob makes that user's region (as large as --size, sparse).
    ObjectId carols = ObjectId.parse(runAs(ALICE + 2, "put", daemon.socket().toString()));
    try (IpcClient c = daemon.connect()) {
      assertEquals(64L << 20, c.stats().capacityBytes(), "the capacity stays --size, however many regions");
      ObjectId small = c.putBlob(new byte[] {1, 2, 3});
      try (Blob b = c.getBlob(small)) {
        assertEquals(3, b.segment().get(ValueLayout.JAVA_BYTE, 2));
      }
      c.delete(List.of(small, carols), false, false);
    }
  }
}
