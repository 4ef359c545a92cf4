package io.vineyard.objects;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.Blob;
import io.vineyard.client.BlobWriter;
import io.vineyard.client.IpcClient;
import io.vineyard.objects.internal.ArrowBody;
import io.vineyard.objects.internal.JsonText;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.types.pojo.Field;

/**
 * A Tensor: a dense n-dimensional array of one {@link DType}, row-major (C order), in one contiguous
 * blob. Read it as a {@link MemorySegment} or as an Arrow vector over the same shared memory.
 *
 * <p>Metadata: {@code dtype}, {@code shape} (a JSON array) and member {@code buffer}, the blob (absent
 * when the tensor has no element).
 */
public final class Tensor implements VineyardObject {

  public static final String TYPENAME = "vineyard::Tensor";
  static final String DTYPE = "dtype";
  static final String SHAPE = "shape";
  static final String BUFFER = "buffer";

  static final ObjectType<Tensor> TYPE = ObjectType.of(TYPENAME, Tensor.class, Tensor::read);

  private final ObjectMeta meta;
  private final DType dtype;
  private final long[] shape;
  private final MemorySegment segment;
  /** Keeps the blob pinned while this tensor is open; null for an empty tensor. */
  private final ArrowBuf pin;
  private final BufferAllocator allocator;
  private boolean closed;

  private Tensor(ObjectMeta meta, DType dtype, long[] shape, MemorySegment segment, ArrowBuf pin, BufferAllocator allocator) {
    this.meta = meta;
    this.dtype = dtype;
    this.shape = shape;
    this.segment = segment;
    this.pin = pin;
    this.allocator = allocator;
  }

  /** Starts a tensor to fill in place in shared memory (no copy); {@link Writer#seal()} stores it. */
  public static Writer create(IpcClient client, DType dtype, long... shape) {
    long bytes = byteSize(dtype, shape);
    return new Writer(client, dtype, shape.clone(), bytes == 0 ? null : client.createBlob(bytes));
  }

  /** Stores a tensor by copying {@code data}, which must hold exactly its bytes. */
  public static ObjectId write(IpcClient client, DType dtype, long[] shape, MemorySegment data) {
    try (Writer w = create(client, dtype, shape)) {
      if (data.byteSize() != w.byteSize()) {
        throw new VineyardException(
            ErrorCode.INVALID_ARGUMENT, "data has " + data.byteSize() + " bytes; a " + dtype.text() + " tensor of shape "
                + JsonText.longs(shape) + " has " + w.byteSize());
      }
      if (w.byteSize() > 0) {
        MemorySegment.copy(data, 0, w.segment(), 0, w.byteSize());
      }
      return w.seal();
    }
  }

  public static Tensor open(IpcClient client, ObjectId id) {
    return ObjectTypes.defaults().open(client, id, Tensor.class);
  }

  public static Tensor open(IpcClient client, ObjectId id, BufferAllocator allocator) {
    return ObjectTypes.defaults().open(client, id, Tensor.class, allocator);
  }

  static long elements(long[] shape) {
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "tensor dimensions must not be negative: " + JsonText.longs(shape));
      }
      try {
        n = Math.multiplyExact(n, d);
      } catch (ArithmeticException e) {
        throw tooLarge(shape);
      }
    }
    return n;
  }

  static long byteSize(DType dtype, long[] shape) {
    try {
      return Math.multiplyExact(elements(shape), dtype.byteSize());
    } catch (ArithmeticException e) {
      throw tooLarge(shape);
    }
  }

  private static VineyardException tooLarge(long[] shape) {
    return new VineyardException(ErrorCode.INVALID_ARGUMENT, "a tensor of shape " + JsonText.longs(shape) + " has more than 2^63 bytes");
  }

  private static Tensor read(ObjectContext context, ObjectMeta meta) {
    DType dtype = DType.parse(meta.getString(DTYPE));
    long[] shape = JsonText.parseLongs(meta.getString(SHAPE), SHAPE);
    long bytes = byteSize(dtype, shape);
    ObjectMeta buffer = meta.members().get(BUFFER);
    if (bytes == 0) {
      return new Tensor(meta, dtype, shape, MemorySegment.NULL, null, context.allocator());
    }
    if (buffer == null || !buffer.isBlob()) {
      throw ArrowBody.malformed(meta, "it has no buffer blob");
    }
    Blob blob = context.blob(buffer);
    if (blob.size() != bytes) {
      throw ArrowBody.malformed(meta, "its buffer has " + blob.size() + " bytes, its shape needs " + bytes);
    }
    ArrowBuf pin = blob.toArrowBuf(context.allocator());
    return new Tensor(meta, dtype, shape, blob.segment(), pin, context.allocator());
  }

  @Override
  public ObjectMeta meta() {
    return meta;
  }

  public DType dtype() {
    return dtype;
  }

  /** The dimensions (a copy). */
  public long[] shape() {
    return shape.clone();
  }

  /** The number of elements. */
  public long elementCount() {
    return elements(shape);
  }

  /** The elements, read-only, in shared memory; valid until {@link #close()}. */
  public MemorySegment segment() {
    checkOpen();
    return segment;
  }

  /**
   * The elements as an Arrow vector of the dtype's type (flattened, row-major), whose values are this
   * tensor's shared memory. Arrow allocates the validity bitmap (one bit per element, all set); the
   * values are not copied. The vector keeps the blob pinned until it is closed.
   */
  public FieldVector toArrowVector(BufferAllocator allocator) {
    checkOpen();
    long n = elementCount();
    if (n > Integer.MAX_VALUE) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "an Arrow vector holds at most 2^31-1 values; this tensor has " + n);
    }
    FieldVector v = Field.notNullable("tensor", dtype.arrowType()).createVector(allocator);
    try {
      ArrowBuf data = pin == null ? allocator.getEmpty() : pin.getReferenceManager().retain(pin, allocator);
      try {
        data.writerIndex(data.capacity());
        v.loadFieldBuffers(new ArrowFieldNode(n, 0), List.of(allocator.getEmpty(), data));
      } finally {
        data.close();
      }
      return v;
    } catch (RuntimeException e) {
      v.close();
      throw e;
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new VineyardException(ErrorCode.ILLEGAL_STATE, "tensor " + meta.id() + " is closed");
    }
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      if (pin != null) {
        pin.close();
      }
    }
  }

  @Override
  public String toString() {
    return "Tensor{" + meta.id() + ", " + dtype.text() + JsonText.longs(shape) + "}";
  }

  /** A tensor being filled in shared memory. Closing an unsealed writer discards it. */
  public static final class Writer implements AutoCloseable {
    private final IpcClient client;
    private final DType dtype;
    private final long[] shape;
    private final BlobWriter blob;
    private boolean done;

    private Writer(IpcClient client, DType dtype, long[] shape, BlobWriter blob) {
      this.client = client;
      this.dtype = dtype;
      this.shape = shape;
      this.blob = blob;
    }

    /** The bytes to fill (empty for a tensor with no element). */
    public MemorySegment segment() {
      return blob == null ? MemorySegment.NULL : blob.segment();
    }

    public long byteSize() {
      return blob == null ? 0 : blob.size();
    }

    /** Seals the data and stores the tensor; returns its id. */
    public ObjectId seal() {
      if (done) {
        throw new VineyardException(ErrorCode.ILLEGAL_STATE, "tensor writer is done");
      }
      done = true;
      ObjectMeta.Builder meta = ObjectMeta.builder(TYPENAME)
          .field(DTYPE, dtype.text())
          .jsonField(SHAPE, JsonText.longs(shape));
      ObjectId blobId = null;
      if (blob != null) {
        blobId = blob.seal();
        meta.member(BUFFER, blobId);
      }
      try {
        return client.putMeta(meta.build());
      } catch (RuntimeException e) {
        if (blobId != null) {
          FrameCodec.discard(client, new java.util.ArrayList<>(List.of(blobId)), e);
        }
        throw e;
      }
    }

    @Override
    public void close() {
      done = true;
      if (blob != null) {
        blob.close();
      }
    }
  }
}
