package io.vineyard.objects;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.util.Locale;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;

/** The element type of a {@link Tensor}: fixed-width numbers, stored little-endian. */
public enum DType {
  INT8(1, new ArrowType.Int(8, true)),
  INT16(2, new ArrowType.Int(16, true)),
  INT32(4, new ArrowType.Int(32, true)),
  INT64(8, new ArrowType.Int(64, true)),
  UINT8(1, new ArrowType.Int(8, false)),
  UINT16(2, new ArrowType.Int(16, false)),
  UINT32(4, new ArrowType.Int(32, false)),
  UINT64(8, new ArrowType.Int(64, false)),
  FLOAT32(4, new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE)),
  FLOAT64(8, new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE));

  private final int byteSize;
  private final ArrowType arrowType;

  DType(int byteSize, ArrowType arrowType) {
    this.byteSize = byteSize;
    this.arrowType = arrowType;
  }

  /** Bytes per element. */
  public int byteSize() {
    return byteSize;
  }

  /** The Arrow type of one element. */
  public ArrowType arrowType() {
    return arrowType;
  }

  /** The name in metadata: {@code int64}, {@code float32}, ... */
  public String text() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The dtype of a name as {@link #text()} writes it. */
  public static DType parse(String text) {
    for (DType d : values()) {
      if (d.text().equals(text)) {
        return d;
      }
    }
    throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "unknown tensor dtype '" + text + "'");
  }

  /** The dtype whose elements have this Arrow type. */
  public static DType of(ArrowType type) {
    for (DType d : values()) {
      if (d.arrowType.equals(type)) {
        return d;
      }
    }
    throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "no tensor dtype holds Arrow type " + type);
  }
}
