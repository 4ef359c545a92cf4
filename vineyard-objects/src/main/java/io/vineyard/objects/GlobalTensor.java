package io.vineyard.objects;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.objects.internal.JsonText;
import java.util.Arrays;
import java.util.List;

/**
 * A global Tensor: a tensor split along its first axis into chunk {@link Tensor}s that live on
 * different instances. Chunk {@code i} holds rows {@link #rowOffset(int) rowOffset(i)} onwards.
 *
 * <p>Metadata besides the chunks: {@code dtype} and {@code shape}, the shape of the whole.
 */
public final class GlobalTensor extends GlobalObject<Tensor> {

  public static final String TYPENAME = "vineyard::GlobalTensor";

  static final ObjectType<GlobalTensor> TYPE = ObjectType.of(TYPENAME, GlobalTensor.class, GlobalTensor::new);

  private final long[] offsets;

  private GlobalTensor(ObjectContext context, ObjectMeta meta) {
    super(context, meta, Tensor.class);
    offsets = new long[chunks().size() + 1];
    for (int i = 0; i < chunks().size(); i++) {
      long[] s = JsonText.parseLongs(chunks().get(i).meta().getString(Tensor.SHAPE), Tensor.SHAPE);
      offsets[i + 1] = offsets[i] + (s.length == 0 ? 1 : s[0]);
    }
  }

  /**
   * Stores a global tensor over chunk tensors of one dtype whose shapes differ in the first dimension
   * at most; the whole is their concatenation along it.
   */
  public static ObjectId create(IpcClient client, List<ObjectId> chunks) {
    List<ObjectMeta> metas = chunkMetas(client, chunks, List.of(Tensor.TYPENAME));
    String dtype = metas.getFirst().getString(Tensor.DTYPE);
    long[] first = JsonText.parseLongs(metas.getFirst().getString(Tensor.SHAPE), Tensor.SHAPE);
    if (first.length == 0) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "chunks of a global tensor need at least one dimension");
    }
    long rows = 0;
    for (ObjectMeta m : metas) {
      long[] s = JsonText.parseLongs(m.getString(Tensor.SHAPE), Tensor.SHAPE);
      if (!m.getString(Tensor.DTYPE).equals(dtype)
          || s.length != first.length
          || !Arrays.equals(s, 1, s.length, first, 1, first.length)) {
        throw new VineyardException(
            ErrorCode.INVALID_ARGUMENT, "chunk " + m.id() + " is " + m.getString(Tensor.DTYPE) + m.getString(Tensor.SHAPE)
                + "; chunks must be " + dtype + " with shape [*" + (first.length > 1 ? "," : "")
                + JsonText.longs(Arrays.copyOfRange(first, 1, first.length)).replaceAll("[\\[\\]]", "") + "]");
      }
      rows += s[0];
    }
    long[] shape = first.clone();
    shape[0] = rows;
    ObjectMeta.Builder b = ObjectMeta.builder(TYPENAME)
        .field(Tensor.DTYPE, dtype)
        .jsonField(Tensor.SHAPE, JsonText.longs(shape));
    return create(client, metas, b);
  }

  public static GlobalTensor open(IpcClient client, ObjectId id) {
    return ObjectTypes.defaults().open(client, id, GlobalTensor.class);
  }

  public DType dtype() {
    return DType.parse(meta().getString(Tensor.DTYPE));
  }

  /** The shape of the whole. */
  public long[] shape() {
    return JsonText.parseLongs(meta().getString(Tensor.SHAPE), Tensor.SHAPE);
  }

  /** The first row (along the first axis) that chunk {@code i} holds. */
  public long rowOffset(int i) {
    return offsets[i];
  }

  @Override
  public String toString() {
    return "GlobalTensor{" + id() + ", " + dtype().text() + JsonText.longs(shape()) + " in " + chunks().size() + " chunks}";
  }
}
