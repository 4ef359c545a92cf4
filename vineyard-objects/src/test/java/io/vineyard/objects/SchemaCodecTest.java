package io.vineyard.objects;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;

/** The schema encoding and the summaries, without a daemon. */
class SchemaCodecTest {

  @Test
  void everySampleSchemaSurvivesTheIpcEncodingWithDictionariesInMessageForm() {
    try (BufferAllocator a = new RootAllocator();
        DictionaryProvider.MapDictionaryProvider provider = new DictionaryProvider.MapDictionaryProvider();
        VectorSchemaRoot root = ArrowSamples.everyType(a, 3, provider)) {
      Set<Long> ids = new LinkedHashSet<>();
      Schema message = FrameCodec.toMessageFormat(root.getSchema(), provider, ids);
      assertEquals(Set.of(7L), ids);
      // In message form a dictionary-encoded field has its value type (utf8), as Arrow IPC writes it.
      assertEquals(new ArrowType.Utf8(), message.findField("dict_utf8").getType());
      ObjectMeta meta = ObjectMeta.builder(DataFrame.TYPENAME).field(FrameCodec.SCHEMA, FrameCodec.encodeSchema(message)).build();
      assertEquals(message, FrameCodec.decodeSchema(meta));

      VineyardException e = assertThrows(VineyardException.class,
          () -> FrameCodec.toMessageFormat(root.getSchema(), null, new LinkedHashSet<>()));
      assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    }
  }

  @Test
  void aCorruptSchemaFieldIsAnInvalidArgument() {
    ObjectMeta meta = ObjectMeta.builder(DataFrame.TYPENAME).field(FrameCodec.SCHEMA, "bm90IGEgc2NoZW1h").build();
    VineyardException e = assertThrows(VineyardException.class, () -> FrameCodec.decodeSchema(meta));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
  }

  @Test
  void summariesDescribeTypesFromMetadataAlone() {
    ObjectMeta tensor = ObjectMeta.builder(Tensor.TYPENAME).field(Tensor.DTYPE, "float32").jsonField(Tensor.SHAPE, "[3,4]").build();
    assertEquals(List.of("Tensor: float32 [3,4]"), ObjectSummary.of(tensor).orElseThrow());
    assertTrue(ObjectSummary.of(ObjectMeta.builder("my::Thing").build()).isEmpty());
    assertEquals(DType.INT64, DType.parse("int64"));
    assertEquals(DType.UINT8, DType.of(new ArrowType.Int(8, false)));
    assertThrows(VineyardException.class, () -> DType.parse("complex128"));
  }
}
