package io.vineyard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.InvalidProtocolBufferException;
import io.vineyard.internal.Protos;
import io.vineyard.proto.ipc.FieldValue;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ObjectMetaTest {

  private static final ObjectId BLOB_A = ObjectId.of(true, 3, 100);
  private static final ObjectId BLOB_B = ObjectId.of(true, 3, 101);
  private static final ObjectId CHILD = ObjectId.of(false, 3, 102);
  private static final ObjectId ROOT = ObjectId.of(false, 3, 103);

  private static void assertCode(ErrorCode code, Executable e) {
    VineyardException ex = assertThrows(VineyardException.class, e);
    assertEquals(code, ex.code(), ex.getMessage());
  }

  private static ObjectMeta sample() {
    return ObjectMeta.builder("vineyard::Tensor<double>")
        .field("name", "weights")
        .field("length", 1024L)
        .field("scale", 0.25)
        .field("sorted", true)
        .jsonField("shape", "[32, 32]")
        .member("buffer", BLOB_A)
        .member("validity", BLOB_B)
        .global(true)
        .nbytes(8192)
        .build();
  }

  // ---------------------------------------------------------------- builder

  @Test
  void builderKeepsWhatWasGiven() {
    ObjectMeta m = sample();
    assertNull(m.id(), "metadata built locally has no id yet");
    assertEquals("vineyard::Tensor<double>", m.typename());
    assertEquals(8192, m.nbytes());
    assertEquals(0, m.instanceId());
    assertTrue(m.isGlobal());
    assertFalse(m.isReference());
    assertFalse(m.isBlob());
    assertEquals(
        Map.of("name", "weights", "length", 1024L, "scale", 0.25, "sorted", true, "shape", new ObjectMeta.Json("[32, 32]")),
        m.fields());
    assertEquals(List.of("length", "name", "scale", "shape", "sorted"), List.copyOf(m.fields().keySet()), "sorted by name");
    assertEquals(List.of("buffer", "validity"), List.copyOf(m.memberNames()));
    ObjectMeta buffer = m.member("buffer");
    assertTrue(buffer.isReference());
    assertTrue(buffer.isBlob());
    assertEquals(BLOB_A, buffer.id());
    assertEquals("", buffer.typename());
    assertEquals(ObjectMeta.reference(BLOB_B), m.member("validity"));
  }

  @Test
  void builderDefaultsAndLastValueWins() {
    ObjectMeta m = ObjectMeta.builder("T").field("x", 1L).field("x", "one").member("m", BLOB_A).member("m", BLOB_B).build();
    assertEquals(0, m.nbytes());
    assertFalse(m.isGlobal());
    assertEquals("one", m.fields().get("x"));
    assertEquals(BLOB_B, m.member("m").id());
    assertEquals(1, m.members().size());
  }

  @Test
  void builtMetadataIsAnImmutableSnapshot() {
    ObjectMeta.Builder b = ObjectMeta.builder("T").field("a", 1L).member("m", BLOB_A);
    ObjectMeta first = b.build();
    b.field("b", 2L).member("n", BLOB_B);
    assertEquals(Map.of("a", 1L), first.fields(), "later builder calls must not change built metadata");
    assertEquals(List.of("m"), List.copyOf(first.memberNames()));
    assertThrows(UnsupportedOperationException.class, () -> first.fields().put("c", 3L));
    assertThrows(UnsupportedOperationException.class, () -> first.members().remove("m"));
    assertEquals(2, b.build().fields().size());
  }

  @Test
  void builderRejectsBadInput() {
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> ObjectMeta.builder(""));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> ObjectMeta.builder("   "));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> ObjectMeta.builder(null));
    ObjectMeta.Builder b = ObjectMeta.builder("T");
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> b.field("", "v"));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> b.field(null, 1L));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> b.field("s", (String) null));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> b.member("", BLOB_A));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> b.member(null, BLOB_A));
    assertTrue(b.build().fields().isEmpty(), "rejected fields must not be stored");
    assertTrue(b.build().members().isEmpty());
  }

  @Test
  void ofRejectsUnsupportedFieldTypes() {
    Map<String, Object> ints = Map.of("n", 1); // Integer, not Long
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> ObjectMeta.of(ROOT, "T", 0, 0, false, ints, Map.of()));
    Map<String, Object> floats = Map.of("f", 1.0f);
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> ObjectMeta.of(ROOT, "T", 0, 0, false, floats, Map.of()));
    Map<String, Object> lists = Map.of("l", List.of());
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> ObjectMeta.of(ROOT, "T", 0, 0, false, lists, Map.of()));
    Map<String, Object> empty = Map.of("", "v");
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> ObjectMeta.of(ROOT, "T", 0, 0, false, empty, Map.of()));
  }

  @Test
  void referencesAndBlobs() {
    ObjectMeta ref = ObjectMeta.reference(CHILD);
    assertTrue(ref.isReference());
    assertFalse(ref.isBlob());
    assertThrows(NullPointerException.class, () -> ObjectMeta.reference(null));
    ObjectMeta blob = ObjectMeta.of(BLOB_A, ObjectMeta.BLOB_TYPENAME, 10, 3, false, Map.of(), Map.of());
    assertTrue(blob.isBlob());
    assertFalse(blob.isReference());
  }

  // ---------------------------------------------------------------- typed getters

  @Test
  void typedGettersConvertWhereSensible() {
    ObjectMeta m =
        ObjectMeta.builder("T")
            .field("s", "text")
            .field("digits", "-123")
            .field("l", Long.MIN_VALUE)
            .field("d", -2.5)
            .field("b", false)
            .jsonField("j", "{\"a\": [1, 2]}")
            .build();
    assertEquals("text", m.getString("s"));
    assertEquals(Long.toString(Long.MIN_VALUE), m.getString("l"));
    assertEquals("-2.5", m.getString("d"));
    assertEquals("false", m.getString("b"));
    assertEquals("{\"a\": [1, 2]}", m.getString("j"), "a JSON field reads as its text");

    assertEquals(Long.MIN_VALUE, m.getLong("l"));
    assertEquals(-123, m.getLong("digits"), "an integer held as text reads as a long");
    assertEquals(-2.5, m.getDouble("d"));
    assertEquals((double) Long.MIN_VALUE, m.getDouble("l"), "a long widens to a double");
    assertFalse(m.getBoolean("b"));

    assertTrue(m.hasField("s"));
    assertFalse(m.hasField("missing"));
  }

  @Test
  void typedGettersRejectWrongTypes() {
    ObjectMeta m =
        ObjectMeta.builder("T")
            .field("s", "text")
            .field("l", 7L)
            .field("d", 2.5)
            .field("b", true)
            .field("bigText", "99999999999999999999")
            .jsonField("j", "42")
            .build();
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> m.getLong("s"));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> m.getLong("d"));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> m.getLong("b"));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> m.getLong("j"));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> m.getLong("bigText"));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> m.getDouble("s"));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> m.getDouble("b"));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> m.getDouble("j"));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> m.getBoolean("s"));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> m.getBoolean("l"));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> m.getBoolean("j"));
  }

  @Test
  void missingFieldsAndMembersAreNotFound() {
    ObjectMeta m = ObjectMeta.of(ROOT, "T", 0, 3, false, Map.of("x", 1L), Map.of("a", ObjectMeta.reference(BLOB_A)));
    assertCode(ErrorCode.NOT_FOUND, () -> m.getString("y"));
    assertCode(ErrorCode.NOT_FOUND, () -> m.getLong("y"));
    assertCode(ErrorCode.NOT_FOUND, () -> m.getDouble("y"));
    assertCode(ErrorCode.NOT_FOUND, () -> m.getBoolean("y"));
    VineyardException e = assertThrows(VineyardException.class, () -> m.member("b"));
    assertEquals(ErrorCode.NOT_FOUND, e.code());
    assertTrue(e.getMessage().contains("'b'"), e.getMessage());
    assertTrue(e.getMessage().contains(ROOT.toString()), e.getMessage());
  }

  // ---------------------------------------------------------------- wire round trip

  /** Metadata as the daemon returns it: ids everywhere, members expanded, some nested. */
  private static ObjectMeta stored() {
    ObjectMeta blobA = ObjectMeta.of(BLOB_A, ObjectMeta.BLOB_TYPENAME, 4000, 3, false, Map.of(), Map.of());
    ObjectMeta blobB = ObjectMeta.of(BLOB_B, ObjectMeta.BLOB_TYPENAME, 0, 3, false, Map.of(), Map.of());
    Map<String, Object> childFields = new LinkedHashMap<>();
    childFields.put("dtype", "float64");
    childFields.put("empty", "");
    childFields.put("emptyJson", new ObjectMeta.Json(""));
    ObjectMeta child =
        ObjectMeta.of(CHILD, "vineyard::Tensor<double>", 4000, 3, false, childFields, Map.of("buffer", blobA, "validity", blobB));
    Map<String, Object> fields = new LinkedHashMap<>();
    fields.put("text", "h\u00e9llo \u4e16\u754c \ud83c\udf47");
    fields.put("zero", 0L);
    fields.put("negative", -42L);
    fields.put("min", Long.MIN_VALUE);
    fields.put("max", Long.MAX_VALUE);
    fields.put("double", 3.141592653589793);
    fields.put("negZero", -0.0);
    fields.put("nan", Double.NaN);
    fields.put("inf", Double.NEGATIVE_INFINITY);
    fields.put("tiny", Double.MIN_VALUE);
    fields.put("yes", true);
    fields.put("no", false);
    fields.put("json", new ObjectMeta.Json("{\"columns\": [\"a\", \"b\"], \"n\": 2}"));
    fields.put("jsonLookingString", "{\"n\": 2}");
    Map<String, ObjectMeta> members = new LinkedHashMap<>();
    members.put("tensor", child);
    members.put("sameBlobAgain", blobA);
    members.put("elsewhere", ObjectMeta.reference(ObjectId.of(false, 9, 5)));
    return ObjectMeta.of(ROOT, "vineyard::DataFrame", 4000, 3, true, fields, members);
  }

  @Test
  void toProtoWritesEveryPart() {
    ObjectMeta m = stored();
    io.vineyard.proto.ipc.ObjectMeta p = Protos.toProto(m);
    assertEquals(ROOT.value(), p.getId());
    assertEquals("vineyard::DataFrame", p.getTypename());
    assertEquals(4000, p.getNbytes());
    assertEquals(3, p.getInstanceId());
    assertTrue(p.getGlobal());
    assertEquals(FieldValue.ValueCase.STRING_VALUE, p.getFieldsOrThrow("text").getValueCase());
    assertEquals(FieldValue.ValueCase.STRING_VALUE, p.getFieldsOrThrow("jsonLookingString").getValueCase());
    assertEquals(FieldValue.ValueCase.JSON_VALUE, p.getFieldsOrThrow("json").getValueCase());
    assertEquals(FieldValue.ValueCase.INT_VALUE, p.getFieldsOrThrow("min").getValueCase());
    assertEquals(Long.MIN_VALUE, p.getFieldsOrThrow("min").getIntValue());
    assertEquals(FieldValue.ValueCase.DOUBLE_VALUE, p.getFieldsOrThrow("double").getValueCase());
    assertEquals(FieldValue.ValueCase.BOOL_VALUE, p.getFieldsOrThrow("no").getValueCase());
    assertFalse(p.getFieldsOrThrow("no").getBoolValue());
    assertEquals(Long.MIN_VALUE, Double.doubleToRawLongBits(p.getFieldsOrThrow("negZero").getDoubleValue()));

    io.vineyard.proto.ipc.ObjectMeta tensor = p.getMembersOrThrow("tensor");
    assertEquals(CHILD.value(), tensor.getId());
    assertEquals(BLOB_A.value(), tensor.getMembersOrThrow("buffer").getId());
    assertEquals(ObjectMeta.BLOB_TYPENAME, tensor.getMembersOrThrow("buffer").getTypename());
    assertEquals(4000, tensor.getMembersOrThrow("buffer").getNbytes());
    io.vineyard.proto.ipc.ObjectMeta elsewhere = p.getMembersOrThrow("elsewhere");
    assertEquals("", elsewhere.getTypename(), "a reference carries only its id");
    assertEquals(ObjectId.of(false, 9, 5).value(), elsewhere.getId());
  }

  @Test
  void protoRoundTripThroughBytesIsLossless() throws InvalidProtocolBufferException {
    ObjectMeta m = stored();
    byte[] wire = Protos.toProto(m).toByteArray();
    ObjectMeta back = Protos.fromProto(io.vineyard.proto.ipc.ObjectMeta.parseFrom(wire));
    assertEquals(m, back);
    assertEquals(m.hashCode(), back.hashCode());

    // Spot checks, so a broken equals() cannot hide a loss.
    assertEquals(ROOT, back.id());
    assertTrue(back.isGlobal());
    assertEquals(Long.MIN_VALUE, back.getLong("min"));
    assertEquals(Long.MAX_VALUE, back.getLong("max"));
    assertInstanceOf(Long.class, back.fields().get("zero"));
    assertInstanceOf(Double.class, back.fields().get("double"));
    assertInstanceOf(Boolean.class, back.fields().get("yes"));
    assertEquals(Long.MIN_VALUE, Double.doubleToRawLongBits(back.getDouble("negZero")), "-0.0 keeps its sign");
    assertTrue(Double.isNaN(back.getDouble("nan")));
    assertEquals(Double.NEGATIVE_INFINITY, back.getDouble("inf"));
    assertEquals(Double.MIN_VALUE, back.getDouble("tiny"));
    assertEquals("h\u00e9llo \u4e16\u754c \ud83c\udf47", back.getString("text"));
    assertEquals(new ObjectMeta.Json("{\"columns\": [\"a\", \"b\"], \"n\": 2}"), back.fields().get("json"));
    assertEquals("{\"n\": 2}", back.fields().get("jsonLookingString"), "a string that looks like JSON stays a string");

    ObjectMeta tensor = back.member("tensor");
    assertFalse(tensor.isReference());
    assertEquals(CHILD, tensor.id());
    assertEquals("", tensor.fields().get("empty"));
    assertEquals(new ObjectMeta.Json(""), tensor.fields().get("emptyJson"));
    assertNotEquals(tensor.fields().get("empty"), tensor.fields().get("emptyJson"));
    ObjectMeta buffer = tensor.member("buffer");
    assertTrue(buffer.isBlob());
    assertFalse(buffer.isReference());
    assertEquals(4000, buffer.nbytes());
    assertEquals(3, buffer.instanceId());
    assertEquals(buffer, back.member("sameBlobAgain"));
    ObjectMeta elsewhere = back.member("elsewhere");
    assertTrue(elsewhere.isReference());
    assertEquals(ObjectId.of(false, 9, 5), elsewhere.id());
  }

  @Test
  void builtMetadataGoesOnTheWireWithMembersAsBareIds() throws InvalidProtocolBufferException {
    ObjectMeta m = sample();
    io.vineyard.proto.ipc.ObjectMeta p =
        io.vineyard.proto.ipc.ObjectMeta.parseFrom(Protos.toProto(m).toByteArray());
    assertEquals(0, p.getId(), "no id before the daemon assigns one");
    assertEquals(io.vineyard.proto.ipc.ObjectMeta.newBuilder().setId(BLOB_A.value()).build(), p.getMembersOrThrow("buffer"));
    assertEquals(8192, p.getNbytes());
    assertTrue(p.getGlobal());
    ObjectMeta back = Protos.fromProto(p);
    assertEquals(m.typename(), back.typename());
    assertEquals(m.fields(), back.fields());
    assertEquals(m.members(), back.members());
    assertEquals(m.nbytes(), back.nbytes());
    assertEquals(m.isGlobal(), back.isGlobal());
  }

  @Test
  void fieldValuesConvertOneByOne() {
    for (Object v : new Object[] {"", "x", 0L, -1L, 1.5, Double.NaN, true, false, new ObjectMeta.Json("[]")}) {
      assertEquals(v, Protos.fromProto(Protos.toProto(v)), String.valueOf(v));
    }
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> Protos.toProto((Object) 1));
    assertCode(ErrorCode.PROTOCOL_ERROR, () -> Protos.fromProto(FieldValue.getDefaultInstance()));
    io.vineyard.proto.ipc.ObjectMeta bad =
        io.vineyard.proto.ipc.ObjectMeta.newBuilder()
            .setId(ROOT.value())
            .setTypename("T")
            .putFields("x", FieldValue.getDefaultInstance())
            .build();
    assertCode(ErrorCode.PROTOCOL_ERROR, () -> Protos.fromProto(bad));
  }
}
