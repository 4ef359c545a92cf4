package io.vineyard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullAndEmptySource;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ObjectIdTest {

  @Test
  void rendersAsOAndSixteenLowercaseHexDigits() {
    assertEquals("o0000000000000000", new ObjectId(0).toString());
    assertEquals("o0000000000000001", new ObjectId(1).toString());
    assertEquals("offffffffffffffff", new ObjectId(-1).toString());
    assertEquals("o8000000000000000", new ObjectId(Long.MIN_VALUE).toString());
    assertEquals("o7fffffffffffffff", new ObjectId(Long.MAX_VALUE).toString());
    assertEquals("o00000000deadbeef", new ObjectId(0xdeadbeefL).toString());
  }

  @Test
  void parseInvertsToStringForEdgeAndRandomValues() {
    List<Long> values = new ArrayList<>(List.of(0L, 1L, -1L, Long.MIN_VALUE, Long.MAX_VALUE, 0xabcdefL));
    Random r = new Random(42);
    for (int i = 0; i < 10_000; i++) {
      values.add(r.nextLong());
    }
    for (long v : values) {
      ObjectId id = new ObjectId(v);
      String s = id.toString();
      assertEquals(17, s.length(), s);
      assertTrue(s.matches("o[0-9a-f]{16}"), s);
      assertEquals(id, ObjectId.parse(s), s);
      assertEquals(v, ObjectId.parse(s).value(), s);
      assertTrue(ObjectId.looksLikeId(s), s);
    }
  }

  @Test
  void ofPlacesBlobBitInstanceAndSequence() {
    ObjectId meta = ObjectId.of(false, 0x1234, 0xabcdefL);
    assertEquals("o1234000000abcdef", meta.toString());
    assertFalse(meta.isBlob());
    assertEquals(0x1234, meta.instanceId());
    assertEquals(0xabcdefL, meta.sequence());

    ObjectId blob = ObjectId.of(true, 0x1234, 0xabcdefL);
    assertEquals("o9234000000abcdef", blob.toString());
    assertTrue(blob.isBlob());
    assertEquals(0x1234, blob.instanceId(), "the blob bit must not leak into the instance id");
    assertEquals(0xabcdefL, blob.sequence());
    assertEquals(meta.value() | ObjectId.BLOB_BIT, blob.value());
  }

  @Test
  void instanceIdRangeIsFifteenBits() {
    ObjectId max = ObjectId.of(true, ObjectId.MAX_INSTANCE_ID, (1L << ObjectId.SEQUENCE_BITS) - 1);
    assertEquals(-1L, max.value(), "largest instance, largest sequence and the blob bit fill all 64 bits");
    assertEquals(ObjectId.MAX_INSTANCE_ID, max.instanceId());
    assertEquals((1L << 48) - 1, max.sequence());

    ObjectId maxMeta = ObjectId.of(false, ObjectId.MAX_INSTANCE_ID, 0);
    assertFalse(maxMeta.isBlob(), "the largest instance id must not set the blob bit");
    assertEquals(ObjectId.MAX_INSTANCE_ID, maxMeta.instanceId());
    assertEquals(0, maxMeta.sequence());

    for (long bad : new long[] {-1, ObjectId.MAX_INSTANCE_ID + 1, Long.MAX_VALUE, Long.MIN_VALUE}) {
      VineyardException e = assertThrows(VineyardException.class, () -> ObjectId.of(false, bad, 1));
      assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    }
  }

  @Test
  void sequenceIsMaskedSoItCannotClobberTheInstanceId() {
    ObjectId id = ObjectId.of(false, 7, (1L << 48) | 5);
    assertEquals(7, id.instanceId());
    assertEquals(5, id.sequence());
    assertFalse(id.isBlob());

    ObjectId neg = ObjectId.of(false, 3, -1L);
    assertEquals(3, neg.instanceId());
    assertFalse(neg.isBlob(), "a negative sequence must not set the blob bit");
    assertEquals((1L << 48) - 1, neg.sequence());
  }

  @Test
  void partsOfARawValueAreExtracted() {
    ObjectId id = new ObjectId(0xfedc_ba98_7654_3210L);
    assertTrue(id.isBlob());
    assertEquals(0x7edc, id.instanceId());
    assertEquals(0xba98_7654_3210L, id.sequence());
  }

  @ParameterizedTest
  @NullAndEmptySource
  @ValueSource(
      strings = {
        "o",
        "o000000000000001", // 15 digits
        "o00000000000000001", // 17 digits
        "x0000000000000001",
        "O0000000000000001",
        "0o000000000000001",
        " o000000000000001",
        "o000000000000001 ",
        "o000000000000000g",
        "o-000000000000001",
        "o+000000000000001",
        "o 000000000000001",
        "o0x00000000000001",
        "o\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff11", // fullwidth digits
        "o\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0661", // Arabic-Indic
        "0000000000000001",
        "12345"
      })
  void malformedStringsAreRejected(String text) {
    VineyardException e = assertThrows(VineyardException.class, () -> ObjectId.parse(text));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    assertTrue(e.getMessage().startsWith("INVALID_ARGUMENT: "), e.getMessage());
    assertFalse(ObjectId.looksLikeId(text), "looksLikeId must agree with parse on: " + text);
  }

  @Test
  void looksLikeIdAgreesWithParse() {
    assertTrue(ObjectId.looksLikeId("o0123456789abcdef"));
    assertTrue(ObjectId.looksLikeId("offffffffffffffff"));
    assertFalse(ObjectId.looksLikeId("my-dataframe"));
    assertFalse(ObjectId.looksLikeId("o123"));
    assertFalse(ObjectId.looksLikeId(null));
    // Whatever looksLikeId accepts, parse must accept too (and the other way round).
    for (String s :
        new String[] {
          "o0123456789abcdef", "o0123456789ABCDEF", "oFFFFFFFFFFFFFFFF", "o000000000000000G", "o00000000000000-1"
        }) {
      boolean parses;
      try {
        ObjectId.parse(s);
        parses = true;
      } catch (VineyardException e) {
        parses = false;
      }
      assertEquals(parses, ObjectId.looksLikeId(s), s);
    }
  }

  @Test
  void orderingIsUnsignedSoBlobsSortAfterObjects() {
    ObjectId maxObject = new ObjectId(Long.MAX_VALUE);
    ObjectId minBlob = new ObjectId(Long.MIN_VALUE);
    ObjectId maxBlob = new ObjectId(-1L);
    ObjectId zero = new ObjectId(0);
    assertTrue(zero.compareTo(maxObject) < 0);
    assertTrue(maxObject.compareTo(minBlob) < 0, "o8000000000000000 sorts after o7fffffffffffffff");
    assertTrue(minBlob.compareTo(maxBlob) < 0);
    assertTrue(maxBlob.compareTo(zero) > 0);
    assertEquals(0, minBlob.compareTo(new ObjectId(Long.MIN_VALUE)));

    ObjectId objectOfInstance1 = ObjectId.of(false, 1, 10);
    ObjectId blobOfInstance0 = ObjectId.of(true, 0, 1);
    assertTrue(objectOfInstance1.compareTo(blobOfInstance0) < 0);
  }

  @Test
  void orderingMatchesTheOrderOfRenderedStrings() {
    Random r = new Random(7);
    List<ObjectId> ids = new ArrayList<>();
    for (int i = 0; i < 2_000; i++) {
      ids.add(new ObjectId(r.nextLong()));
    }
    ids.add(new ObjectId(0));
    ids.add(new ObjectId(-1));
    ids.add(new ObjectId(Long.MIN_VALUE));
    ids.add(new ObjectId(Long.MAX_VALUE));
    List<ObjectId> byId = new ArrayList<>(ids);
    byId.sort(Comparator.naturalOrder());
    List<ObjectId> byText = new ArrayList<>(ids);
    byText.sort(Comparator.comparing(ObjectId::toString));
    assertEquals(byText, byId);
    for (int i = 1; i < byId.size(); i++) {
      assertTrue(Long.compareUnsigned(byId.get(i - 1).value(), byId.get(i).value()) <= 0);
    }
  }

  @Test
  void equalityIsByValue() {
    assertEquals(new ObjectId(42), ObjectId.parse("o000000000000002a"));
    assertEquals(new ObjectId(42).hashCode(), ObjectId.parse("o000000000000002a").hashCode());
    assertFalse(new ObjectId(42).equals(new ObjectId(42 | ObjectId.BLOB_BIT)));
  }
}
