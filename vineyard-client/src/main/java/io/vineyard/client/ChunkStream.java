package io.vineyard.client;

import io.grpc.Detachable;
import io.grpc.HasByteBuffer;
import io.grpc.MethodDescriptor;
import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import io.vineyard.proto.rpc.BlobChunk;
import io.vineyard.proto.rpc.VineyardGrpc;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * The receiving side of {@code FetchBlob} without protobuf parsing of the bytes: each {@link
 * BlobChunk} is read as its small header (total size, offset, data length) and the data is then
 * copied once, from the transport's own buffers straight into the target. Parsing the message the
 * usual way would copy every chunk twice more on the heap (and 1 MiB arrays churn the collector).
 */
final class ChunkStream {

  private ChunkStream() {}

  /** {@code FetchBlob} with responses read as {@link Chunk}s; same wire format. */
  static final MethodDescriptor<io.vineyard.proto.rpc.FetchBlobRequest, Chunk> FETCH_BLOB =
      VineyardGrpc.getFetchBlobMethod()
          .toBuilder(VineyardGrpc.getFetchBlobMethod().getRequestMarshaller(), new ChunkMarshaller())
          .build();

  /**
   * One received chunk: its header, and the stream positioned at its {@code length} data bytes.
   * Must be closed (it may hold the transport's buffers).
   */
  static final class Chunk implements AutoCloseable {
    final long totalSize;
    final long offset;
    final long length;
    private final InputStream data;

    Chunk(long totalSize, long offset, long length, InputStream data) {
      this.totalSize = totalSize;
      this.offset = offset;
      this.length = length;
      this.data = data;
    }

    /** Copies the data to {@code target} at {@code at}. */
    void copyTo(MemorySegment target, long at) {
      try {
        long left = length;
        if (data instanceof HasByteBuffer hb && hb.byteBufferSupported()) {
          while (left > 0) {
            ByteBuffer bb = hb.getByteBuffer();
            if (bb == null || !bb.hasRemaining()) {
              break;
            }
            int n = (int) Math.min(bb.remaining(), left);
            MemorySegment.copy(MemorySegment.ofBuffer(bb), 0, target, at, n);
            skipFully(n);
            at += n;
            left -= n;
          }
        } else {
          byte[] buf = new byte[(int) Math.min(left, 256 << 10)];
          while (left > 0) {
            int n = data.read(buf, 0, (int) Math.min(buf.length, left));
            if (n < 0) {
              break;
            }
            MemorySegment.copy(MemorySegment.ofArray(buf), 0, target, at, n);
            at += n;
            left -= n;
          }
        }
        if (left != 0) {
          throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "blob chunk ended " + left + " bytes short");
        }
      } catch (IOException e) {
        throw new VineyardException(ErrorCode.IO_ERROR, "reading a blob chunk failed: " + e.getMessage(), e);
      }
    }

    private void skipFully(long n) throws IOException {
      while (n > 0) {
        long s = data.skip(n);
        if (s <= 0) {
          throw new IOException("cannot skip in a blob chunk");
        }
        n -= s;
      }
    }

    @Override
    public void close() {
      try {
        data.close();
      } catch (IOException e) {
        // the transport's buffers are released either way
      }
    }
  }

  /** Reads a {@link BlobChunk}'s header and keeps the stream (detached from gRPC's) for the data. */
  private static final class ChunkMarshaller implements MethodDescriptor.Marshaller<Chunk> {

    @Override
    public InputStream stream(Chunk value) {
      throw new VineyardException(ErrorCode.INTERNAL, "chunks are only received");
    }

    @Override
    public Chunk parse(InputStream stream) {
      // Detached, the buffers outlive this call and are released when the chunk is closed.
      InputStream in = stream instanceof Detachable d ? d.detach() : stream;
      try {
        long total = 0;
        long offset = 0;
        while (true) {
          long tag = varint(in, true);
          if (tag < 0) {
            return new Chunk(total, offset, 0, in); // no data field: an empty chunk
          }
          switch ((int) tag) {
            case (1 << 3) -> total = varint(in, false);
            case (2 << 3) -> offset = varint(in, false);
            case (3 << 3) | 2 -> {
              return new Chunk(total, offset, varint(in, false), in);
            }
            default -> throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "unexpected field in a blob chunk: tag " + tag);
          }
        }
      } catch (IOException | RuntimeException e) {
        try {
          in.close();
        } catch (IOException ignored) {
          // closing only releases buffers
        }
        if (e instanceof VineyardException v) {
          throw v;
        }
        throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "malformed blob chunk: " + e, e);
      }
    }

    /** A base-128 varint; -1 at a clean end of stream when {@code endOk}. */
    private static long varint(InputStream in, boolean endOk) throws IOException {
      long v = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        int b = in.read();
        if (b < 0) {
          if (endOk && shift == 0) {
            return -1;
          }
          throw new IOException("truncated varint");
        }
        v |= (long) (b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
          return v;
        }
      }
      throw new IOException("varint too long");
    }
  }
}
