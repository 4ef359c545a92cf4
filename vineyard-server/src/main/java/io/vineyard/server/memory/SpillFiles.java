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
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
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
  /**
   * A spill file, shared by the blobs whose bytes it holds: one written for a blob, or, after an
   * exchange with several resident blobs, each of them at its offset. Unlinked with its last blob.
   */
  private static final class SpillFile {
    final Path path;
    final AtomicInteger blobs = new AtomicInteger();

    SpillFile(Path path) {
      this.path = path;
    }
  }

  /** Where a spilled blob's bytes are: {@code size} bytes at {@code offset} of {@code file}. */
  private record Slot(SpillFile file, long offset, long size) {}

  /** Where each spilled blob is. */
  private final Map<Long, Slot> files = new ConcurrentHashMap<>();
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

  private Slot slot(long id) throws IOException {
    Slot s = files.get(id);
    if (s == null) {
      throw new IOException("no spill file for blob " + HexFormat.of().toHexDigits(id));
    }
    return s;
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
      SpillFile f = new SpillFile(target);
      f.blobs.set(1);
      files.put(id, new Slot(f, 0, bytes.byteSize()));
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
  }

  @Override
  public void read(long id, MemorySegment target) throws IOException {
    Slot s = slot(id);
    if (s.size() != target.byteSize()) {
      throw new IOException("spilled " + s.size() + " bytes for a blob of " + target.byteSize());
    }
    try (FileChannel ch = FileChannel.open(s.file().path, StandardOpenOption.READ)) {
      if (ch.size() < s.offset() + s.size()) {
        throw new IOException("spill file of " + ch.size() + " bytes for a blob of " + s.size() + " at " + s.offset());
      }
      for (long off = 0; off < target.byteSize(); ) {
        int n = (int) Math.min(CHUNK, target.byteSize() - off);
        ByteBuffer buf = target.asSlice(off, n).asByteBuffer();
        while (buf.hasRemaining()) {
          if (ch.read(buf, s.offset() + off + buf.position()) < 0) {
            throw new IOException("spill file ended early");
          }
        }
        off += n;
      }
    }
  }

  /**
   * In place, a chunk at a time: each chunk of the spilled blob's bytes in its file is read into a
   * buffer, the window's chunk written over it, and the buffer copied into the window; then the
   * rest of the window (if it is larger) is appended. The file then holds the window's blobs, each
   * at its offset. Nothing needs new disk space but that rest; if writing it fails, the chunks are
   * exchanged back (in place again) and the file cut to its old length.
   */
  @Override
  public void swapRun(long spilledId, long spilledSize, MemorySegment window, List<Piece> pieces) throws IOException {
    long length = window.byteSize();
    if (length < spilledSize) {
      throw new IOException(length + " bytes cannot make room for a blob of " + spilledSize);
    }
    for (Piece piece : pieces) {
      if (piece.offset() < 0 || piece.size() < 0 || piece.offset() + piece.size() > length) {
        throw new IOException("blob " + HexFormat.of().toHexDigits(piece.id()) + " is not within the window");
      }
    }
    Slot s = slot(spilledId);
    byte[] tmp = new byte[(int) Math.min(SWAP_CHUNK, Math.max(1, spilledSize))];
    try (FileChannel ch = FileChannel.open(s.file().path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      boolean wholeFile = s.offset() == 0 && ch.size() == spilledSize;
      if (!wholeFile && length > spilledSize) {
        throw new IOException("the spilled blob shares its file: it can be exchanged only with as many bytes as it has");
      }
      if (ch.size() < s.offset() + spilledSize) {
        throw new IOException("spill file of " + ch.size() + " bytes for a blob of " + spilledSize + " at " + s.offset());
      }
      long[] done = {0};
      try {
        exchange(ch, s.offset(), window, spilledSize, tmp, done);
      } catch (IOException | RuntimeException e) {
        try {
          exchange(ch, s.offset(), window, done[0], tmp, new long[1]); // the chunks exchanged so far, back
        } catch (IOException | RuntimeException again) {
          e.addSuppressed(again);
        }
        throw e;
      }
      try {
        for (long off = spilledSize; off < length; ) {
          int n = (int) Math.min(CHUNK, length - off);
          ByteBuffer buf = window.asSlice(off, n).asByteBuffer();
          while (buf.hasRemaining()) {
            ch.write(buf, off + buf.position());
          }
          off += n;
        }
        ch.force(false);
      } catch (IOException | RuntimeException e) {
        ch.truncate(spilledSize);
        exchange(ch, 0, window, spilledSize, tmp, new long[1]); // back as it was
        throw e;
      }
    }
    SpillFile f = s.file();
    f.blobs.addAndGet(pieces.size());
    for (Piece piece : pieces) {
      files.put(piece.id(), new Slot(f, s.offset() + piece.offset(), piece.size()));
    }
    files.remove(spilledId);
    release(f);
  }

  /**
   * Exchanges the first {@code n} bytes of the file with those of {@code mem}, chunk by chunk;
   * {@code done[0]} says how far it got. A chunk whose write fails is put back in the file first.
   */
  private static void exchange(FileChannel ch, long base, MemorySegment mem, long n, byte[] tmp, long[] done) throws IOException {
    MemorySegment t = MemorySegment.ofArray(tmp);
    for (long off = 0; off < n; ) {
      int len = (int) Math.min(tmp.length, n - off);
      ByteBuffer in = ByteBuffer.wrap(tmp, 0, len);
      while (in.hasRemaining()) {
        if (ch.read(in, base + off + in.position()) < 0) {
          throw new IOException("spill file ended early");
        }
      }
      try {
        ByteBuffer out = mem.asSlice(off, len).asByteBuffer();
        while (out.hasRemaining()) {
          ch.write(out, base + off + out.position());
        }
      } catch (IOException | RuntimeException e) {
        ByteBuffer back = ByteBuffer.wrap(tmp, 0, len);
        while (back.hasRemaining()) {
          ch.write(back, base + off + back.position());
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
    Slot s = files.remove(id);
    if (s != null) {
      release(s.file());
    }
  }

  /** One blob fewer in {@code f}: unlinks it (in the background) when that was the last. */
  private void release(SpillFile f) {
    if (f.blobs.decrementAndGet() > 0) {
      return;
    }
    Path p = f.path;
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
