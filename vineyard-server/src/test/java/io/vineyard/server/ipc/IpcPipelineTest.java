package io.vineyard.server.ipc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.internal.Protos;
import io.vineyard.proto.ipc.CreateBlobRequest;
import io.vineyard.proto.ipc.Error;
import io.vineyard.proto.ipc.GetBlobsRequest;
import io.vineyard.proto.ipc.ListEntry;
import io.vineyard.proto.ipc.ListResponse;
import io.vineyard.proto.ipc.ProtocolVersion;
import io.vineyard.proto.ipc.PutMetaRequest;
import io.vineyard.proto.ipc.RegisterRequest;
import io.vineyard.proto.ipc.Request;
import io.vineyard.proto.ipc.Response;
import io.vineyard.proto.ipc.StatsRequest;
import io.vineyard.proto.ipc.StatsResponse;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class IpcPipelineTest {

  private static final int MAX_FRAME = 1024;

  /** Stands in for IpcHandler: records what the pipeline delivers, and can answer each request. */
  private static final class Recorder extends ChannelInboundHandlerAdapter {
    final List<Request> requests = new ArrayList<>();
    final List<Throwable> errors = new ArrayList<>();
    Response reply;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      requests.add(assertInstanceOf(Request.class, msg));
      if (reply != null) {
        ctx.writeAndFlush(reply);
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      errors.add(cause);
    }
  }

  private Recorder recorder;
  private EmbeddedChannel ch;

  @BeforeEach
  void setUp() {
    recorder = new Recorder();
    ch = new EmbeddedChannel();
    IpcServer.configure(ch.pipeline(), MAX_FRAME, recorder);
  }

  @AfterEach
  void tearDown() {
    ch.finishAndReleaseAll();
  }

  private static byte[] frame(byte[] payload) {
    return ByteBuffer.allocate(4 + payload.length).putInt(payload.length).put(payload).array();
  }

  private static byte[] frame(Request r) {
    return frame(r.toByteArray());
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  private void feed(byte[] bytes, int from, int to) {
    ch.writeInbound(Unpooled.copiedBuffer(bytes, from, to - from));
  }

  /** Everything the pipeline wrote to the socket so far. */
  private byte[] outbound() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Object o;
    while ((o = ch.readOutbound()) != null) {
      ByteBuf b = assertInstanceOf(ByteBuf.class, o);
      try {
        byte[] bytes = new byte[b.readableBytes()];
        b.readBytes(bytes);
        out.writeBytes(bytes);
      } finally {
        b.release();
      }
    }
    return out.toByteArray();
  }

  private static Request register(String name) {
    return Request.newBuilder()
        .setRegister(RegisterRequest.newBuilder().setVersion(ProtocolVersion.PROTOCOL_VERSION_2).setClientName(name))
        .build();
  }

  private static Request putMeta() {
    ObjectMeta m =
        ObjectMeta.builder("vineyard::Tensor<double>")
            .field("shape", "[3, 4]")
            .field("n", 12L)
            .member("buffer", ObjectId.of(true, 1, 77))
            .build();
    return Request.newBuilder().setPutMeta(PutMetaRequest.newBuilder().setMeta(Protos.toProto(m))).build();
  }

  // ---------------------------------------------------------------- inbound

  @Test
  void aRequestSplitAcrossManyWritesDecodesOnce() {
    Request req = putMeta();
    byte[] bytes = frame(req);
    assertTrue(bytes.length > 40);
    int[] cuts = {0, 1, 3, 4, 5, 20, bytes.length - 1, bytes.length};
    for (int i = 1; i < cuts.length; i++) {
      assertTrue(recorder.requests.isEmpty(), "nothing may be delivered before the frame is complete");
      feed(bytes, cuts[i - 1], cuts[i]);
    }
    assertEquals(List.of(req), recorder.requests);
    assertTrue(recorder.errors.isEmpty(), recorder.errors.toString());
  }

  @Test
  void aRequestFedOneByteAtATimeDecodesOnce() {
    Request req = register("byte-by-byte");
    byte[] bytes = frame(req);
    for (int i = 0; i < bytes.length; i++) {
      feed(bytes, i, i + 1);
    }
    assertEquals(List.of(req), recorder.requests);
  }

  @Test
  void twoRequestsInOneBufferDecodeAsTwo() {
    Request first = register("client");
    Request second = Request.newBuilder().setStats(StatsRequest.getDefaultInstance()).build();
    byte[] both = concat(frame(first), frame(second));
    feed(both, 0, both.length);
    assertEquals(List.of(first, second), recorder.requests);
    assertTrue(recorder.errors.isEmpty());
  }

  @Test
  void framesStraddlingBuffersDecodeInOrder() {
    List<Request> sent = new ArrayList<>();
    ByteArrayOutputStream stream = new ByteArrayOutputStream();
    for (int i = 0; i < 30; i++) {
      Request r =
          i % 3 == 0
              ? register("c" + i)
              : i % 3 == 1
                  ? Request.newBuilder().setCreateBlob(CreateBlobRequest.newBuilder().setSize(i * 1000L)).build()
                  : Request.newBuilder().setGetBlobs(GetBlobsRequest.newBuilder().addIds(i).addIds(-i)).build();
      sent.add(r);
      stream.writeBytes(frame(r));
    }
    byte[] all = stream.toByteArray();
    int pos = 0;
    int step = 1;
    while (pos < all.length) {
      int end = Math.min(all.length, pos + step);
      feed(all, pos, end);
      pos = end;
      step = step * 3 % 37 + 1; // 1, 4, 13, 3, 10, 31, ...
    }
    assertEquals(sent, recorder.requests);
  }

  @Test
  void anEmptyFrameIsAnEmptyRequest() {
    byte[] bytes = frame(new byte[0]);
    feed(bytes, 0, bytes.length);
    assertEquals(1, recorder.requests.size());
    assertEquals(Request.BodyCase.BODY_NOT_SET, recorder.requests.getFirst().getBodyCase());
  }

  @Test
  void aFrameOfExactlyMaxFrameBytesIsAccepted() {
    Request req = null;
    for (int n = 900; n < MAX_FRAME; n++) {
      Request r = register("x".repeat(n));
      if (r.getSerializedSize() == MAX_FRAME) {
        req = r;
        break;
      }
    }
    if (req == null) {
      fail("no register request of exactly " + MAX_FRAME + " bytes");
    }
    byte[] bytes = frame(req);
    feed(bytes, 0, bytes.length);
    assertEquals(List.of(req), recorder.requests, "the limit is on the payload, not payload plus prefix");
    assertTrue(recorder.errors.isEmpty(), recorder.errors.toString());
  }

  @Test
  void anOversizedLengthPrefixIsTooLongFrame() {
    byte[] header = ByteBuffer.allocate(4).putInt(MAX_FRAME + 1).array();
    feed(header, 0, 4); // fails on the prefix alone, before any payload arrives
    assertEquals(1, recorder.errors.size(), recorder.errors.toString());
    assertInstanceOf(TooLongFrameException.class, recorder.errors.getFirst());
    assertTrue(recorder.requests.isEmpty());
  }

  @Test
  void theLengthPrefixIsReadUnsigned() {
    byte[] header = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff};
    feed(header, 0, 4);
    assertEquals(1, recorder.errors.size(), recorder.errors.toString());
    assertInstanceOf(TooLongFrameException.class, recorder.errors.getFirst());
    assertTrue(recorder.requests.isEmpty());
  }

  @Test
  void tooLongFrameIsReportedThroughCheckExceptionWithoutARecorder() {
    EmbeddedChannel bare = new EmbeddedChannel();
    try {
      IpcServer.configure(bare.pipeline(), MAX_FRAME, new ChannelInboundHandlerAdapter());
      byte[] bytes = frame(new byte[MAX_FRAME + 10]);
      try {
        bare.writeInbound(Unpooled.wrappedBuffer(bytes));
        bare.checkException();
        fail("expected TooLongFrameException");
      } catch (TooLongFrameException expected) {
        assertTrue(expected.getMessage().contains(Integer.toString(MAX_FRAME + 10 + 4))
            || expected.getMessage().contains(Integer.toString(MAX_FRAME + 10)), expected.getMessage());
      }
    } finally {
      bare.finishAndReleaseAll();
    }
  }

  @Test
  void aGarbagePayloadIsADecoderException() {
    // Field 1 with wire type 7, which does not exist.
    byte[] invalidWireType = frame(new byte[] {0x0f, 0x01, 0x02});
    feed(invalidWireType, 0, invalidWireType.length);
    assertEquals(1, recorder.errors.size(), recorder.errors.toString());
    Throwable e = recorder.errors.getFirst();
    assertInstanceOf(DecoderException.class, e);
    assertInstanceOf(InvalidProtocolBufferException.class, e.getCause());
    assertTrue(recorder.requests.isEmpty());

    // A length-delimited field that claims more bytes than the frame holds.
    byte[] truncated = frame(new byte[] {0x0a, 0x05, 0x01});
    feed(truncated, 0, truncated.length);
    assertEquals(2, recorder.errors.size());
    assertInstanceOf(DecoderException.class, recorder.errors.get(1));
    assertTrue(recorder.requests.isEmpty());

    // Framing is intact, so a good request after the garbage still decodes.
    Request ok = register("after-garbage");
    byte[] good = frame(ok);
    feed(good, 0, good.length);
    assertEquals(List.of(ok), recorder.requests);
  }

  // ---------------------------------------------------------------- outbound

  @Test
  void aResponseIsWrittenAsLengthAndProtobuf() throws InvalidProtocolBufferException {
    Response resp =
        Response.newBuilder()
            .setStats(StatsResponse.newBuilder().setInstanceId(7).setCapacityBytes(1L << 30).setUsedBytes(4096))
            .build();
    ch.writeOutbound(resp);
    byte[] out = outbound();
    byte[] body = resp.toByteArray();
    assertEquals(4 + body.length, out.length);
    assertEquals(body.length, ByteBuffer.wrap(out, 0, 4).getInt(), "4-byte big-endian length prefix");
    byte[] payload = java.util.Arrays.copyOfRange(out, 4, out.length);
    assertArrayEquals(body, payload);
    assertEquals(resp, Response.parseFrom(payload));
  }

  @Test
  void aHandlerReplyGoesOutFramed() throws InvalidProtocolBufferException {
    Response reply =
        Response.newBuilder().setError(Error.newBuilder().setCode(8).setMessage("the first request must be register")).build();
    recorder.reply = reply;
    byte[] in = concat(frame(register("a")), frame(register("b")));
    feed(in, 0, in.length);
    assertEquals(2, recorder.requests.size());
    byte[] out = outbound();
    ByteBuffer buf = ByteBuffer.wrap(out);
    for (int i = 0; i < 2; i++) {
      int len = buf.getInt();
      byte[] p = new byte[len];
      buf.get(p);
      assertEquals(reply, Response.parseFrom(p), "reply " + i);
    }
    assertEquals(0, buf.remaining(), "exactly two framed replies");
  }

  @Test
  void largeAndEmptyResponsesAreFramedCorrectly() throws InvalidProtocolBufferException {
    // Responses are not limited by maxFrame (that bounds requests); a big listing must go out whole.
    ListResponse.Builder list = ListResponse.newBuilder().setTruncated(true);
    for (int i = 0; i < 2_000; i++) {
      list.addEntries(
          ListEntry.newBuilder()
              .setMeta(io.vineyard.proto.ipc.ObjectMeta.newBuilder().setId(i).setTypename("T" + i)
                  .putFields("pad", io.vineyard.proto.ipc.FieldValue.newBuilder()
                      .setStringValue("p".repeat(50)).build()))
              .addNames("name-" + i));
    }
    Response big = Response.newBuilder().setList(list).build();
    assertTrue(big.getSerializedSize() > 100_000);
    Response empty = Response.getDefaultInstance();
    ch.writeOutbound(big, empty);
    byte[] out = outbound();
    ByteBuffer buf = ByteBuffer.wrap(out);
    int len = buf.getInt();
    assertEquals(big.getSerializedSize(), len);
    byte[] p = new byte[len];
    buf.get(p);
    assertEquals(big, Response.parseFrom(p));
    assertEquals(0, buf.getInt(), "an empty response is a zero length and nothing else");
    assertEquals(0, buf.remaining());
  }

  @Test
  void theDecoderDeliversProtobufMessagesNotBuffers() {
    Request req =
        Request.newBuilder()
            .setPutMeta(
                PutMetaRequest.newBuilder()
                    .setMeta(
                        io.vineyard.proto.ipc.ObjectMeta.newBuilder()
                            .setTypename("bytes")
                            .putFields(
                                "raw",
                                io.vineyard.proto.ipc.FieldValue.newBuilder()
                                    .setStringValueBytes(ByteString.copyFrom(new byte[] {(byte) 0xc3, (byte) 0xa9}))
                                    .build())))
            .build();
    byte[] bytes = frame(req);
    feed(bytes, 0, bytes.length);
    assertEquals("\u00e9", recorder.requests.getFirst().getPutMeta().getMeta().getFieldsOrThrow("raw").getStringValue());
    assertNull(ch.readInbound(), "the handler consumed the request");
  }
}
