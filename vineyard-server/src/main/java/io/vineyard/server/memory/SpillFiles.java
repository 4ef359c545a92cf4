package io.vineyard.server.memory;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import io.vineyard.server.store.BlobSpiller;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Spilled blobs as files, one per blob, in a directory private to this daemon
 * ({@code <spill-dir>/vineyardd-<pid>}, mode 0700), removed when the daemon stops. A file is
 * written under a temporary name and renamed once complete, so a failed spill leaves nothing.
 *
 * <p>Files no longer needed are unlinked on a background thread: freeing a large file's pages (and,
 * once written back, its disk blocks) costs as much as reading it, and the request that loaded the
 * blob back should not wait for that. Each spill gets a file name of its own, so a late unlink can
 * never hit a newer spill of the same blob. Thread-safe: the store writes and reads outside its
 * lock (a spill pass and reloads of other blobs at the same time) and deletes under it.
 */
public final class SpillFiles implements BlobSpiller, AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(SpillFiles.class);
  private static final int CHUNK = 64 << 20;
  private static final int SWAP_CHUNK = 4 << 20;

  private final Path dir;
  /** The file that holds each spilled blob. */
  private final Map<Long, Path> files = new ConcurrentHashMap<>();
  private final ExecutorService unlinker =
      Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "vineyardd-spill-unlink");
        t.setDaemon(true);
        return t;
      });
  private final AtomicLong sequence = new AtomicLong();

  private SpillFiles(Path dir) {
    this.dir = dir;
  }

  public static SpillFiles create(Path spillDir) {
    Path dir;
    try {
      dir = PrivateDirectory.create(spillDir);
    } catch (IOException e) {
      throw new VineyardException(ErrorCode.IO_ERROR, "cannot create spill directory under " + spillDir + ": " + e, e);
    }
    return new SpillFiles(dir);
  }

  private Path file(long id) throws IOException {
    Path p = files.get(id);
    if (p == null) {
      throw new IOException("no spill file for blob " + HexFormat.of().toHexDigits(id));
    }
    return p;
  }

  @Override
  public void write(long id, MemorySegment bytes) throws IOException {
    Path target = dir.resolve(HexFormat.of().toHexDigits(id) + "-" + sequence.incrementAndGet() + ".blob");
    Path tmp = dir.resolve(target.getFileName() + ".partial");
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        for (long off = 0; off < bytes.byteSize(); ) {
          int n = (int) Math.min(CHUNK, bytes.byteSize() - off);
          ByteBuffer buf = bytes.asSlice(off, n).asByteBuffer();
          while (buf.hasRemaining()) {
            ch.write(buf);
          }
          off += n;
        }
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      files.put(id, target);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
  }

  @Override
  public void read(long id, MemorySegment target) throws IOException {
    try (FileChannel ch = FileChannel.open(file(id), StandardOpenOption.READ)) {
      if (ch.size() != target.byteSize()) {
        throw new IOException("spill file of " + ch.size() + " bytes for a blob of " + target.byteSize());
      }
      for (long off = 0; off < target.byteSize(); ) {
        int n = (int) Math.min(CHUNK, target.byteSize() - off);
        ByteBuffer buf = target.asSlice(off, n).asByteBuffer();
        while (buf.hasRemaining()) {
          if (ch.read(buf, off + buf.position()) < 0) {
            throw new IOException("spill file ended early");
          }
        }
        off += n;
      }
    }
  }

  /**
   * In place, a chunk at a time: each chunk of the spilled blob's file is read into a buffer, the
   * resident blob's chunk written over it, and the buffer copied into the resident blob's memory;
   * then the rest of the resident blob (if it is larger) is appended. The file is then the resident
   * blob's. Nothing needs new disk space but that rest; if writing it fails, the chunks are
   * exchanged back (in place again) and the file cut to its old length.
   */
  @Override
  public void swap(long spilledId, long spilledSize, long residentId, MemorySegment residentBytes) throws IOException {
    if (residentBytes.byteSize() < spilledSize) {
      throw new IOException("a blob of " + residentBytes.byteSize() + " bytes cannot make room for one of " + spilledSize);
    }
    Path p = file(spilledId);
    byte[] tmp = new byte[(int) Math.min(SWAP_CHUNK, Math.max(1, spilledSize))];
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      if (ch.size() != spilledSize) {
        throw new IOException("spill file of " + ch.size() + " bytes for a blob of " + spilledSize);
      }
      long[] done = {0};
      try {
        exchange(ch, residentBytes, spilledSize, tmp, done);
      } catch (IOException | RuntimeException e) {
        try {
          exchange(ch, residentBytes, done[0], tmp, new long[1]); // the chunks exchanged so far, back
        } catch (IOException | RuntimeException again) {
          e.addSuppressed(again);
        }
        throw e;
      }
      try {
        long size = residentBytes.byteSize();
        for (long off = spilledSize; off < size; ) {
          int n = (int) Math.min(CHUNK, size - off);
          ByteBuffer buf = residentBytes.asSlice(off, n).asByteBuffer();
          while (buf.hasRemaining()) {
            ch.write(buf, off + buf.position());
          }
          off += n;
        }
        ch.force(false);
      } catch (IOException | RuntimeException e) {
        ch.truncate(spilledSize);
        exchange(ch, residentBytes, spilledSize, tmp, new long[1]); // back as it was
        throw e;
      }
    }
    files.remove(spilledId);
    files.put(residentId, p);
  }

  /**
   * Exchanges the first {@code n} bytes of the file with those of {@code mem}, chunk by chunk;
   * {@code done[0]} says how far it got. A chunk whose write fails is put back in the file first.
   */
  private static void exchange(FileChannel ch, MemorySegment mem, long n, byte[] tmp, long[] done) throws IOException {
    MemorySegment t = MemorySegment.ofArray(tmp);
    for (long off = 0; off < n; ) {
      int len = (int) Math.min(tmp.length, n - off);
      ByteBuffer in = ByteBuffer.wrap(tmp, 0, len);
      while (in.hasRemaining()) {
        if (ch.read(in, off + in.position()) < 0) {
          throw new IOException("spill file ended early");
        }
      }
      try {
        ByteBuffer out = mem.asSlice(off, len).asByteBuffer();
        while (out.hasRemaining()) {
          ch.write(out, off + out.position());
        }
      } catch (IOException | RuntimeException e) {
        ByteBuffer back = ByteBuffer.wrap(tmp, 0, len);
        while (back.hasRemaining()) {
          ch.write(back, off + back.position());
        }
        throw e;
      }
      MemorySegment.copy(t, 0, mem, off, len);
      off += len;
      done[0] = off;
    }
  }

  @Override
  public void delete(long id) {
    Path p = files.remove(id);
    if (p == null) {
      return;
    }
    unlinker.execute(() -> {
      try {
        Files.deleteIfExists(p);
      } catch (IOException e) {
        LOG.warn("cannot remove spill file {}: {}", p, e.toString());
      }
    });
  }

  @Override
  public String describe() {
    return dir.toString();
  }

  public Path directory() {
    return dir;
  }

  @Override
  public void close() {
    unlinker.shutdownNow();
    PrivateDirectory.deleteTree(dir);
  }
}
