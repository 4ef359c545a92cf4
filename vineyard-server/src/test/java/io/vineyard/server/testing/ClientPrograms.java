package io.vineyard.server.testing;

import io.vineyard.ObjectId;
import io.vineyard.client.Blob;
import io.vineyard.client.BlobWriter;
import io.vineyard.client.IpcClient;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * Client programs that integration tests run in separate JVMs: the point of the store is sharing
 * between processes, so that is where it is tested. Each prints what the test checks on stdout.
 */
public final class ClientPrograms {

  private ClientPrograms() {}

  private static final int CHUNK = 1 << 20;

  /** Fills {@code seg} with the deterministic byte stream of {@code seed}, a chunk at a time. */
  static void fill(MemorySegment seg, long seed) {
    byte[] chunk = new byte[CHUNK];
    for (long off = 0, i = 0; off < seg.byteSize(); off += CHUNK, i++) {
      new Random(seed * 31 + i).nextBytes(chunk);
      int n = (int) Math.min(CHUNK, seg.byteSize() - off);
      MemorySegment.copy(chunk, 0, seg, ValueLayout.JAVA_BYTE, off, n);
    }
  }

  /** Whether {@code seg} holds the byte stream of {@code seed}. */
  static boolean matches(MemorySegment seg, long seed) {
    byte[] expected = new byte[CHUNK];
    byte[] actual = new byte[CHUNK];
    for (long off = 0, i = 0; off < seg.byteSize(); off += CHUNK, i++) {
      new Random(seed * 31 + i).nextBytes(expected);
      int n = (int) Math.min(CHUNK, seg.byteSize() - off);
      MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, off, actual, 0, n);
      if (!java.util.Arrays.equals(expected, 0, n, actual, 0, n)) {
        return false;
      }
    }
    return true;
  }

  /** The line of /proc/self/maps whose range holds {@code address}, or null. */
  static String mappingOf(long address) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
      String[] range = line.substring(0, line.indexOf(' ')).split("-");
      long start = Long.parseUnsignedLong(range[0], 16);
      long end = Long.parseUnsignedLong(range[1], 16);
      if (Long.compareUnsigned(address, start) >= 0 && Long.compareUnsigned(address, end) < 0) {
        return line;
      }
    }
    return null;
  }

  /** Args: socket size seed name. Writes a blob, names it, prints {@code ID <id>}, exits. */
  public static final class Writer {
    public static void main(String[] args) {
      try (IpcClient c = IpcClient.connect(Path.of(args[0]))) {
        ObjectId id;
        try (BlobWriter w = c.createBlob(Long.parseLong(args[1]))) {
          fill(w.segment(), Long.parseLong(args[2]));
          id = w.seal();
        }
        c.putName(args[3], id);
        System.out.println("ID " + id);
      }
    }
  }

  /**
   * Args: socket name seed. Gets the named blob, checks its bytes, and prints the line of
   * /proc/self/maps that backs the view ({@code MAPPING <line>}) and {@code OK} or {@code MISMATCH}.
   */
  public static final class Reader {
    public static void main(String[] args) throws IOException {
      try (IpcClient c = IpcClient.connect(Path.of(args[0]))) {
        try (Blob b = c.getBlob(c.getName(args[1]))) {
          System.out.println("SIZE " + b.size());
          System.out.println("MAPPING " + mappingOf(b.segment().address()));
          System.out.println(matches(b.segment(), Long.parseLong(args[2])) ? "OK" : "MISMATCH");
        }
      }
    }
  }

  /** Args: socket size. Creates a blob, writes into it, prints {@code CREATED <id>}, then waits to be killed. */
  public static final class CreateAndHang {
    public static void main(String[] args) throws InterruptedException {
      IpcClient c = IpcClient.connect(Path.of(args[0]));
      BlobWriter w = c.createBlob(Long.parseLong(args[1]));
      fill(w.segment(), 7);
      System.out.println("CREATED " + w.id());
      Thread.sleep(300_000);
    }
  }

  /** Args: socket name. Gets the named blob, prints {@code PINNED}, then waits to be killed. */
  public static final class PinAndHang {
    public static void main(String[] args) throws InterruptedException {
      IpcClient c = IpcClient.connect(Path.of(args[0]));
      List<Blob> held = c.getBlobs(List.of(c.getName(args[1])));
      System.out.println("PINNED " + held.size());
      Thread.sleep(300_000);
    }
  }
}
