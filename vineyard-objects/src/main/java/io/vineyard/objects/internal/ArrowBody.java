package io.vineyard.objects.internal;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.Blob;
import io.vineyard.client.BlobWriter;
import io.vineyard.client.IpcClient;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.compression.NoCompressionCodec;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;

/**
 * The body of an Arrow record batch as a vineyard object: the field nodes (length and null count of
 * every vector, depth first, as in Arrow IPC) and every buffer as a blob of its own.
 *
 * <p>Fields: {@code num_rows}; {@code nodes}, a flat JSON array of length and null count pairs;
 * {@code buffer_sizes}, the byte size of every buffer in order; {@code variadic_buffer_counts} for
 * view vectors. Members: {@code buffer_<i>} for every buffer that is not empty (an empty buffer has
 * no blob). Reading builds the same batch over the blobs' shared memory, so no byte is copied.
 */
public final class ArrowBody {
  private ArrowBody() {}

  public static final String NUM_ROWS = "num_rows";
  static final String NODES = "nodes";
  static final String BUFFER_SIZES = "buffer_sizes";
  static final String VARIADIC = "variadic_buffer_counts";

  /** The member that holds buffer {@code i}. */
  public static String bufferMember(int i) {
    return "buffer_" + i;
  }

  /**
   * Copies every buffer of {@code batch} into a new blob and describes the body in {@code meta}.
   *
   * @param created receives the id of every blob sealed, so a caller that fails later can delete them
   */
  public static void write(IpcClient client, ArrowRecordBatch batch, ObjectMeta.Builder meta, List<ObjectId> created) {
    List<ArrowFieldNode> nodes = batch.getNodes();
    long[] nodeFields = new long[nodes.size() * 2];
    for (int i = 0; i < nodes.size(); i++) {
      nodeFields[2 * i] = nodes.get(i).getLength();
      nodeFields[2 * i + 1] = nodes.get(i).getNullCount();
    }
    List<ArrowBuf> buffers = batch.getBuffers();
    long[] sizes = new long[buffers.size()];
    for (int i = 0; i < buffers.size(); i++) {
      ArrowBuf buf = buffers.get(i);
      long size = buf.readableBytes();
      sizes[i] = size;
      if (size == 0) {
        continue;
      }
      MemorySegment source = readable(buf);
      try (BlobWriter w = client.createBlob(size)) {
        MemorySegment.copy(source, 0, w.segment(), 0, size);
        ObjectId id = w.seal();
        created.add(id);
        meta.member(bufferMember(i), id);
      }
    }
    meta.field(NUM_ROWS, (long) batch.getLength());
    meta.jsonField(NODES, JsonText.longs(nodeFields));
    meta.jsonField(BUFFER_SIZES, JsonText.longs(sizes));
    List<Long> variadic = batch.getVariadicBufferCounts();
    if (variadic != null && !variadic.isEmpty()) {
      meta.jsonField(VARIADIC, JsonText.longs(variadic.stream().mapToLong(Long::longValue).toArray()));
    }
  }

  /**
   * The batch stored in {@code meta}, over shared memory. Its buffers are accounted to
   * {@code allocator} and keep their blobs pinned until released; load it into vectors and close it.
   *
   * @param blobs the open handle of each blob member
   */
  public static ArrowRecordBatch read(ObjectMeta meta, Function<ObjectMeta, Blob> blobs, BufferAllocator allocator) {
    long rows = meta.getLong(NUM_ROWS);
    long[] nodeFields = JsonText.parseLongs(meta.getString(NODES), NODES);
    long[] sizes = JsonText.parseLongs(meta.getString(BUFFER_SIZES), BUFFER_SIZES);
    if (nodeFields.length % 2 != 0 || rows < 0 || rows > Integer.MAX_VALUE) {
      throw malformed(meta, "its nodes or row count are malformed");
    }
    List<ArrowFieldNode> nodes = new ArrayList<>(nodeFields.length / 2);
    for (int i = 0; i < nodeFields.length; i += 2) {
      nodes.add(new ArrowFieldNode(nodeFields[i], nodeFields[i + 1]));
    }
    List<Long> variadic = new ArrayList<>();
    if (meta.hasField(VARIADIC)) {
      for (long v : JsonText.parseLongs(meta.getString(VARIADIC), VARIADIC)) {
        variadic.add(v);
      }
    }
    List<ArrowBuf> buffers = new ArrayList<>(sizes.length);
    try {
      for (int i = 0; i < sizes.length; i++) {
        if (sizes[i] == 0) {
          buffers.add(allocator.getEmpty());
          continue;
        }
        ObjectMeta member = meta.members().get(bufferMember(i));
        if (member == null || !member.isBlob()) {
          throw malformed(meta, "buffer " + i + " has no blob");
        }
        Blob blob = blobs.apply(member);
        if (blob.size() != sizes[i]) {
          throw malformed(meta, "buffer " + i + " is " + blob.size() + " bytes, not " + sizes[i]);
        }
        ArrowBuf buf = blob.toArrowBuf(allocator);
        buffers.add(buf);
        buf.writerIndex(sizes[i]);
      }
      // The batch takes over the references made above: closing it releases them.
      return new ArrowRecordBatch(
          (int) rows, nodes, buffers, NoCompressionCodec.DEFAULT_BODY_COMPRESSION, variadic, false, false);
    } catch (RuntimeException e) {
      for (ArrowBuf b : buffers) {
        b.close();
      }
      throw e;
    }
  }

  /**
   * The readable bytes of an Arrow buffer as a segment over the same memory. Arrow buffers carry no
   * bounds the FFM API can check, so the view trusts the buffer's own reader and writer indexes.
   */
  @SuppressWarnings("restricted")
  public static MemorySegment readable(ArrowBuf buf) {
    return MemorySegment.ofAddress(buf.memoryAddress() + buf.readerIndex()).reinterpret(buf.readableBytes());
  }

  /** The error for metadata that does not describe a valid object of its type. */
  public static VineyardException malformed(ObjectMeta meta, String why) {
    return new VineyardException(
        ErrorCode.INVALID_ARGUMENT, "object " + meta.id() + " is not a valid " + meta.typename() + ": " + why);
  }
}
