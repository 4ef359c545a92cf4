package io.vineyard;

import java.util.HexFormat;

/**
 * The 64-bit identity of an object, rendered as {@code o} followed by 16 lowercase hex digits.
 *
 * <p>Blob ids have the top bit set. Ids are minted by a daemon without coordination: they embed the
 * minting instance's id (bits 48–62) above a per-instance sequence (bits 0–47) that follows the
 * clock, so a restarted daemon does not reuse the ids of its previous run.
 */
public record ObjectId(long value) implements Comparable<ObjectId> {

  /** Top bit: the id names a blob. */
  public static final long BLOB_BIT = 1L << 63;

  /** Bits of the sequence part. */
  public static final int SEQUENCE_BITS = 48;

  /** Largest instance id that fits in an object id. */
  public static final long MAX_INSTANCE_ID = (1L << 15) - 1;

  private static final long SEQUENCE_MASK = (1L << SEQUENCE_BITS) - 1;

  /**
   * The clock the sequence starts from: a daemon mints the sequence as milliseconds since this
   * instant (2025-01-01T00:00:00Z) times 256, counting up from there within a millisecond.
   */
  public static final long EPOCH_MILLIS = 1_735_689_600_000L;

  /** Bits of the sequence below the milliseconds. */
  public static final int SEQUENCE_MILLIS_SHIFT = 8;

  /** Builds an id from its parts. */
  public static ObjectId of(boolean blob, long instanceId, long sequence) {
    if (instanceId < 0 || instanceId > MAX_INSTANCE_ID) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT, "instance id out of range [0, " + MAX_INSTANCE_ID + "]: " + instanceId);
    }
    long v = (instanceId << SEQUENCE_BITS) | (sequence & SEQUENCE_MASK);
    return new ObjectId(blob ? v | BLOB_BIT : v);
  }

  /**
   * Parses {@code o} + 16 hex digits (the form {@link #toString()} gives).
   *
   * @throws VineyardException with {@link ErrorCode#INVALID_ARGUMENT} for anything else
   */
  public static ObjectId parse(String text) {
    if (text == null || text.length() != 17 || text.charAt(0) != 'o') {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT, "not an object id (expected 'o' and 16 hex digits): " + text);
    }
    try {
      return new ObjectId(HexFormat.fromHexDigitsToLong(text, 1, 17));
    } catch (IllegalArgumentException e) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT, "not an object id (expected 'o' and 16 hex digits): " + text, e);
    }
  }

  /** Whether {@code text} has the form of an object id. */
  public static boolean looksLikeId(String text) {
    if (text == null || text.length() != 17 || text.charAt(0) != 'o') {
      return false;
    }
    for (int i = 1; i < 17; i++) {
      if (!HexFormat.isHexDigit(text.charAt(i))) {
        return false;
      }
    }
    return true;
  }

  /** Whether the raw id value names a blob. */
  public static boolean isBlobId(long value) {
    return (value & BLOB_BIT) != 0;
  }

  public boolean isBlob() {
    return (value & BLOB_BIT) != 0;
  }

  public long instanceId() {
    return (value >>> SEQUENCE_BITS) & MAX_INSTANCE_ID;
  }

  public long sequence() {
    return value & SEQUENCE_MASK;
  }

  /**
   * When the id was minted, from its sequence: never earlier than the real time (a daemon that mints
   * more than 256 ids in a millisecond runs ahead of its clock, so its ids read as newer).
   */
  public java.time.Instant mintedAt() {
    return java.time.Instant.ofEpochMilli(EPOCH_MILLIS + (sequence() >>> SEQUENCE_MILLIS_SHIFT));
  }

  @Override
  public int compareTo(ObjectId o) {
    return Long.compareUnsigned(value, o.value);
  }

  @Override
  public String toString() {
    return "o" + HexFormat.of().toHexDigits(value);
  }
}
