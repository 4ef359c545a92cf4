package io.vineyard.server.records;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.CodedOutputStream;
import io.vineyard.ErrorCode;
import io.vineyard.InstanceInfo;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.proto.records.v1.Field;
import io.vineyard.proto.records.v1.ObjectTree;
import io.vineyard.proto.records.v1.Record;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 1, unit = TimeUnit.MINUTES)
class RecordCodecTest {

  private static final ObjectId BLOB = ObjectId.of(true, 3, 77);
  private static final ObjectId OBJ = ObjectId.of(false, 3, 78);

  private static ObjectMeta blob(ObjectId id, long nbytes) {
    return ObjectMeta.of(id, ObjectMeta.BLOB_TYPENAME, nbytes, id.instanceId(), false, Map.of(), Map.of());
  }

  private static ObjectMeta withFields(Map<String, Object> fields) {
    return ObjectMeta.of(OBJ, "test::Awkward", 10, 3, false, fields, Map.of("buffer", blob(BLOB, 10)));
  }

  private static ObjectMeta roundTrip(ObjectMeta m) {
    return RecordCodec.decodeTree(RecordCodec.encodeTree(m));
  }

  @Test
  void awkwardFieldValuesRoundTripExactly() {
    Map<String, Object> f = new LinkedHashMap<>();
    f.put("nan", Double.NaN);
    f.put("nan-payload", Double.longBitsToDouble(0x7ff8_0000_0000_0123L));
    f.put("neg-zero", -0.0d);
    f.put("zero", 0.0d);
    f.put("inf", Double.POSITIVE_INFINITY);
    f.put("neg-inf", Double.NEGATIVE_INFINITY);
    f.put("min-subnormal", Double.MIN_VALUE);
    f.put("max", Double.MAX_VALUE);
    f.put("long-min", Long.MIN_VALUE);
    f.put("long-max", Long.MAX_VALUE);
    f.put("long-zero", 0L);
    f.put("empty", "");
    f.put("false", false);
    f.put("true", true);
    f.put("json-empty", new ObjectMeta.Json(""));
    f.put("json", new ObjectMeta.Json("{\"a\": [1, 2.5e300, null]}"));
    f.put("ключ-🍇-鍵", "värde 🍷\u0000nul inside");
    f.put("tab\tand\nnewline", "x");
    ObjectMeta m = withFields(f);
    ObjectMeta back = roundTrip(m);
    assertEquals(m, back);
    for (String k : f.keySet()) {
      Object want = f.get(k);
      Object got = back.fields().get(k);
      assertEquals(want.getClass(), got.getClass(), k);
      if (want instanceof Double d) {
        assertEquals(Double.doubleToRawLongBits(d), Double.doubleToRawLongBits((Double) got), "bits of " + k);
      } else {
        assertEquals(want, got, k);
      }
    }
  }

  @Test
  void treeShapeAndHeaderFieldsRoundTrip() {
    ObjectMeta inner = ObjectMeta.of(ObjectId.of(false, 32767, (1L << 48) - 1), "t::Inner", Long.MAX_VALUE, 32767, true,
        Map.of("k", 1L), Map.of("ref", ObjectMeta.reference(ObjectId.of(false, 5, 9)), "b", blob(BLOB, 0)));
    ObjectMeta root = ObjectMeta.of(new ObjectId(-1L), "t::Root", -5, 0, false, Map.of(), Map.of("inner", inner));
    ObjectMeta back = roundTrip(root);
    assertEquals(root, back);
    assertTrue(back.member("inner").member("ref").isReference());
    assertTrue(back.member("inner").isGlobal());
  }

  @Test
  void deepAndWideTreesRoundTrip() {
    ObjectMeta m = blob(BLOB, 1);
    for (int i = 0; i < RecordCodec.MAX_TREE_DEPTH - 1; i++) {
      m = ObjectMeta.of(ObjectId.of(false, 1, i + 1), "t::Level" + i, 1, 1, false, Map.of("depth", (long) i), Map.of("child", m));
    }
    assertEquals(m, roundTrip(m));
    ObjectMeta tooDeep = ObjectMeta.of(ObjectId.of(false, 1, 5000), "t::Top", 1, 1, false, Map.of(), Map.of("child", m));
    VineyardException e = assertThrows(VineyardException.class, () -> RecordCodec.encodeTree(tooDeep));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());

    Map<String, ObjectMeta> members = new LinkedHashMap<>();
    Map<String, Object> fields = new LinkedHashMap<>();
    Random r = new Random(7);
    for (int i = 0; i < 2000; i++) {
      members.put("m" + i, blob(ObjectId.of(true, 2, i), r.nextLong()));
      fields.put("f" + i, r.nextDouble());
    }
    ObjectMeta wide = ObjectMeta.of(OBJ, "t::Wide", 0, 2, false, fields, members);
    assertEquals(wide, roundTrip(wide));
  }

  @Test
  void encodingIsDeterministic() {
    Map<String, Object> a = new LinkedHashMap<>();
    a.put("z", 1L);
    a.put("a", "x");
    Map<String, Object> b = new LinkedHashMap<>();
    b.put("a", "x");
    b.put("z", 1L);
    assertArrayEquals(RecordCodec.encodeTree(withFields(a)), RecordCodec.encodeTree(withFields(b)));
    assertArrayEquals(RecordCodec.encodeName("n", OBJ), RecordCodec.encodeName("n", OBJ));
  }

  @Test
  void instancesAndNamesRoundTrip() {
    InstanceInfo i = new InstanceInfo(32767, "nöde-1", "/tmp/v.sock", "", Long.MAX_VALUE, 0,
        Instant.ofEpochSecond(1_700_000_000L, 123_456_789), "1.0-SNAPSHOT");
    assertEquals(i, RecordCodec.decodeInstance(RecordCodec.encodeInstance(i)));
    assertEquals(new StoredRecord.Name("名前/with/slashes", BLOB),
        RecordCodec.decodeName(RecordCodec.encodeName("名前/with/slashes", BLOB)));
    assertEquals(new StoredRecord.Instance(i), RecordCodec.decode(RecordCodec.encodeInstance(i)));
  }

  @Test
  void headerCarriesTheFormatVersion() {
    byte[] v = RecordCodec.encodeName("n", OBJ);
    assertEquals("VYR", new String(v, 0, 3, StandardCharsets.US_ASCII));
    assertEquals(RecordCodec.FORMAT_VERSION, v[3]);
  }

  @Test
  void unknownOrNewerVersionsAreRefused() throws IOException {
    byte[] body = Record.newBuilder().setObject(ObjectTree.newBuilder().setId(1).setTypename("t::T")).build().toByteArray();
    for (int version : new int[] {0, 2, 300, -1}) {
      UnreadableRecordException e =
          assertThrows(UnreadableRecordException.class, () -> RecordCodec.decode(framed(version, body)));
      assertEquals(UnreadableRecordException.Reason.UNKNOWN_VERSION, e.why());
      assertEquals(ErrorCode.IO_ERROR, e.code());
      assertTrue(e.reason().contains("version " + Integer.toUnsignedString(version)), e.reason());
      if (version == 2) {
        assertTrue(e.reason().contains("newer daemon"), e.reason());
      }
    }
    assertEquals("t::T", RecordCodec.decodeTree(framed(1, body)).typename(), "the same body at version 1 reads");
  }

  @Test
  void corruptValuesAreRefused() throws IOException {
    byte[] good = RecordCodec.encodeTree(withFields(Map.of("a", "b")));
    // The old format: a bare IPC message, no header.
    assertReason(UnreadableRecordException.Reason.NOT_A_RECORD, new byte[] {0x08, 0x01, 0x12, 0x03, 't', ':', 'T'});
    assertReason(UnreadableRecordException.Reason.NOT_A_RECORD, new byte[0]);
    assertReason(UnreadableRecordException.Reason.NOT_A_RECORD, "VYR".getBytes(StandardCharsets.US_ASCII));
    assertReason(UnreadableRecordException.Reason.CORRUPT, Arrays.copyOf(good, good.length - 3)); // truncated
    assertReason(UnreadableRecordException.Reason.CORRUPT, new byte[] {'V', 'Y', 'R', (byte) 0x81}); // version varint cut
    byte[] garbage = Arrays.copyOf(good, good.length);
    for (int i = 4; i < garbage.length; i++) {
      garbage[i] = (byte) 0xff;
    }
    assertReason(UnreadableRecordException.Reason.CORRUPT, garbage);
    // Parses, but is not a valid record.
    assertReason(UnreadableRecordException.Reason.CORRUPT, framed(1, Record.getDefaultInstance().toByteArray()));
    assertReason(UnreadableRecordException.Reason.CORRUPT,
        framed(1, Record.newBuilder().setObject(ObjectTree.newBuilder().setTypename("t::NoId")).build().toByteArray()));
    assertReason(UnreadableRecordException.Reason.CORRUPT,
        framed(1, Record.newBuilder().setObject(ObjectTree.newBuilder().setId(1).setTypename("t::T")
            .addFields(Field.newBuilder().setName("valueless"))).build().toByteArray()));
    assertReason(UnreadableRecordException.Reason.CORRUPT,
        framed(1, Record.newBuilder().setObject(ObjectTree.newBuilder().setId(1).setTypename("t::T")
            .addFields(Field.newBuilder().setName("x").setFlag(true))
            .addFields(Field.newBuilder().setName("x").setFlag(false))).build().toByteArray()));
    // A good record of another kind than expected.
    UnreadableRecordException e = assertThrows(UnreadableRecordException.class, () -> RecordCodec.decodeName(good));
    assertEquals(UnreadableRecordException.Reason.WRONG_KIND, e.why());
  }

  @Test
  void valuesThatWouldNotReadBackAreNotWritten() {
    VineyardException e = assertThrows(VineyardException.class,
        () -> RecordCodec.encodeTree(withFields(Map.of("broken", "a\uD800b"))));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    ObjectMeta unsaved = ObjectMeta.builder("t::New").field("x", 1L).build();
    assertEquals(ErrorCode.INVALID_ARGUMENT, assertThrows(VineyardException.class, () -> RecordCodec.encodeTree(unsaved)).code());
    assertEquals(ErrorCode.INVALID_ARGUMENT, assertThrows(VineyardException.class, () -> RecordCodec.encodeName("", OBJ)).code());
  }

  @Test
  void decodeReturnsTheKindTheValueStates() {
    ObjectMeta m = withFields(Map.of());
    assertInstanceOf(StoredRecord.Tree.class, RecordCodec.decode(RecordCodec.encodeTree(m)));
    assertInstanceOf(StoredRecord.Name.class, RecordCodec.decode(RecordCodec.encodeName("x", OBJ)));
  }

  private static void assertReason(UnreadableRecordException.Reason why, byte[] value) {
    UnreadableRecordException e = assertThrows(UnreadableRecordException.class, () -> RecordCodec.decode(value));
    assertEquals(why, e.why(), e.reason());
    assertEquals(ErrorCode.IO_ERROR, e.code());
  }

  private static byte[] framed(int version, byte[] body) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write("VYR".getBytes(StandardCharsets.US_ASCII));
    CodedOutputStream o = CodedOutputStream.newInstance(out);
    o.writeUInt32NoTag(version);
    o.flush();
    out.write(body);
    return out.toByteArray();
  }
}
