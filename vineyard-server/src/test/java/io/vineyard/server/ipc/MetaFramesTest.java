package io.vineyard.server.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.buffer.ByteBufUtil;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.client.Listing;
import io.vineyard.client.ObjectInfo;
import io.vineyard.internal.Protos;
import io.vineyard.proto.ipc.GetMetaResponse;
import io.vineyard.proto.ipc.Response;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The frames {@link MetaFrames} writes are, byte for byte, those the generated messages make. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MetaFramesTest {

  @Test
  void listingsMatchTheGeneratedEncodingWhateverTheirContent() throws Exception {
    Random rnd = new Random(19);
    for (int round = 0; round < 300; round++) {
      Listing listing = randomListing(rnd);
      long rid = round % 7 == 0 ? 0 : rnd.nextLong() & Long.MAX_VALUE;
      Response expected = Response.newBuilder().setRequestId(rid).setList(Protos.toProto(listing, Long.MAX_VALUE)).build();
      assertFrame(expected, frame(MetaFrames.list(rid, listing, Long.MAX_VALUE)));
    }
  }

  @Test
  void aListingTooLargeIsCutWhereTheGeneratedEncodingCutsIt() throws Exception {
    Random rnd = new Random(7);
    for (int round = 0; round < 200; round++) {
      Listing listing = randomListing(rnd);
      long full = Protos.toProto(listing, Long.MAX_VALUE).getSerializedSize();
      long max = 64 + (full == 0 ? 0 : rnd.nextLong(full + 64));
      Response expected = Response.newBuilder().setRequestId(round + 1).setList(Protos.toProto(listing, max)).build();
      assertFrame(expected, frame(MetaFrames.list(round + 1, listing, max)));
    }
  }

  @Test
  void aListingAlreadyCutStaysMarkedTruncated() throws Exception {
    Listing listing = new Listing(List.of(new ObjectInfo(blob(5), List.of())), true);
    Response parsed = parse(frame(MetaFrames.list(3, listing, Long.MAX_VALUE)));
    assertTrue(parsed.getList().getTruncated());
    assertEquals(1, parsed.getList().getEntriesCount());
  }

  @Test
  void defaultValuesInFieldsStaySet() throws Exception {
    // A oneof's value is on the wire even when it is 0, false or "": otherwise the client reads "not set".
    ObjectMeta m = ObjectMeta.of(new ObjectId(9), "t", 0, 0, false,
        Map.of("zero", 0L, "no", false, "empty", "", "nothing", 0.0, "json", new ObjectMeta.Json("")), Map.of());
    Response parsed = parse(frame(MetaFrames.list(1, new Listing(List.of(new ObjectInfo(m, List.of())), false), Long.MAX_VALUE)));
    assertEquals(m, Protos.fromProto(parsed.getList().getEntries(0).getMeta()));
  }

  @Test
  void getMetaMatchesTheGeneratedEncodingAndIsMeasuredFirst() throws Exception {
    Random rnd = new Random(3);
    for (int round = 0; round < 200; round++) {
      ObjectMeta m = randomMeta(rnd, 4);
      Response expected = Response.newBuilder().setRequestId(round + 1)
          .setGetMeta(GetMetaResponse.newBuilder().setMeta(Protos.toProto(m))).build();
      MetaFrames f = MetaFrames.getMeta(round + 1, m);
      assertEquals(expected.getSerializedSize(), f.size(), "measured before it is written: what is too large is refused");
      assertFrame(expected, frame(f));
    }
  }

  @Test
  void deepTreesAreEncodedWithoutRecursingPastTheirDepth() throws Exception {
    ObjectMeta m = blob(1);
    for (int level = 2; level <= Protos.MAX_TREE_DEPTH; level++) {
      m = ObjectMeta.of(new ObjectId(level), "level", level, 0, false, Map.of("l", (long) level), Map.of("down", m));
    }
    Response expected = Response.newBuilder().setRequestId(1).setGetMeta(GetMetaResponse.newBuilder().setMeta(Protos.toProto(m))).build();
    assertFrame(expected, frame(MetaFrames.getMeta(1, m)));
  }

  /** The frame as the daemon's pipeline writes it. */
  private static ByteBuf frame(MetaFrames f) {
    EmbeddedChannel ch = new EmbeddedChannel(FrameEncoder.INSTANCE);
    try {
      assertTrue(ch.writeOutbound(f));
      return ch.readOutbound();
    } finally {
      ch.finishAndReleaseAll();
    }
  }

  @Test
  void anAnswerIsWrittenOnce() throws Exception {
    MetaFrames f = MetaFrames.getMeta(1, blob(2));
    frame(f).release();
    EmbeddedChannel ch = new EmbeddedChannel(FrameEncoder.INSTANCE);
    assertThrows(io.netty.handler.codec.EncoderException.class, () -> ch.writeOutbound(f));
    ch.finishAndReleaseAll();
  }

  private static void assertFrame(Response expected, ByteBuf frame) throws Exception {
    try {
      assertEquals(4 + expected.getSerializedSize(), frame.readableBytes());
      byte[] bytes = ByteBufUtil.getBytes(frame, 4, frame.readableBytes() - 4);
      assertEquals(expected, Protos.parseResponse(java.nio.ByteBuffer.wrap(bytes)), "as the client reads it");
      assertEquals(expected.toByteString(), com.google.protobuf.ByteString.copyFrom(bytes), "same bytes, in the same order");
      assertEquals(expected.getSerializedSize(), frame.getInt(0));
    } finally {
      frame.release();
    }
  }

  private static Response parse(ByteBuf frame) throws Exception {
    try {
      return Response.parseFrom(ByteBufUtil.getBytes(frame, 4, frame.readableBytes() - 4));
    } finally {
      frame.release();
    }
  }

  private static Listing randomListing(Random rnd) {
    List<ObjectInfo> out = new ArrayList<>();
    int n = rnd.nextInt(12);
    for (int i = 0; i < n; i++) {
      List<String> names = new ArrayList<>();
      for (int k = rnd.nextInt(3); k > 0; k--) {
        names.add(randomString(rnd));
      }
      out.add(new ObjectInfo(rnd.nextInt(4) == 0 ? blob(rnd.nextLong()) : randomMeta(rnd, 3), names));
    }
    return new Listing(out, rnd.nextInt(5) == 0);
  }

  private static ObjectMeta blob(long id) {
    return ObjectMeta.of(new ObjectId(id == 0 ? 1 : id), ObjectMeta.BLOB_TYPENAME, Math.abs(id % 100000), 0, false, Map.of(), Map.of());
  }

  private static ObjectMeta randomMeta(Random rnd, int depth) {
    if (rnd.nextInt(5) == 0) {
      return ObjectMeta.reference(new ObjectId(rnd.nextLong() | 1));
    }
    Map<String, Object> fields = new LinkedHashMap<>();
    for (int k = rnd.nextInt(6); k > 0; k--) {
      Object v = switch (rnd.nextInt(6)) {
        case 0 -> randomString(rnd);
        case 1 -> rnd.nextLong();
        case 2 -> (long) rnd.nextInt(3) - 1;
        case 3 -> rnd.nextBoolean() ? rnd.nextDouble() : Double.NaN;
        case 4 -> rnd.nextBoolean();
        default -> new ObjectMeta.Json("{\"k\": " + rnd.nextInt() + "}");
      };
      fields.put(randomString(rnd) + k, v);
    }
    Map<String, ObjectMeta> members = new LinkedHashMap<>();
    if (depth > 0) {
      for (int k = rnd.nextInt(4); k > 0; k--) {
        members.put("m" + randomString(rnd) + k, randomMeta(rnd, depth - 1));
      }
    }
    long id = rnd.nextInt(8) == 0 ? 0 : rnd.nextLong();
    return ObjectMeta.of(id == 0 ? null : new ObjectId(id), randomString(rnd) + "::T", rnd.nextInt(3) == 0 ? 0 : rnd.nextLong(),
        rnd.nextInt(3) == 0 ? 0 : rnd.nextInt(1 << 20), rnd.nextBoolean(), fields, members);
  }

  private static String randomString(Random rnd) {
    String[] parts = {"", "a", "vineyard", "é", "名前", "\uD83D\uDE00", "x".repeat(200)};
    StringBuilder b = new StringBuilder();
    for (int k = rnd.nextInt(3); k >= 0; k--) {
      b.append(parts[rnd.nextInt(parts.length)]);
    }
    return b.toString();
  }
}
