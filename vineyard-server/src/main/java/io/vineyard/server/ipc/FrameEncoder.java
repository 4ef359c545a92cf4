package io.vineyard.server.ipc;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.MessageLite;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;
import java.nio.ByteBuffer;

/**
 * Encodes an answer (a protobuf message, or {@link MetaFrames}) as one frame, a 4-byte big-endian length and the message, in a single
 * buffer: one allocation and one buffer to write per answer (a separate length prefix would be a
 * second buffer in every {@code writev}).
 */
@ChannelHandler.Sharable
final class FrameEncoder extends MessageToByteEncoder<Object> {

  static final FrameEncoder INSTANCE = new FrameEncoder();

  private FrameEncoder() {
    super(Object.class);
  }

  @Override
  public boolean acceptOutboundMessage(Object msg) {
    return msg instanceof MessageLite || msg instanceof MetaFrames;
  }

  private static int sizeOf(Object msg) {
    return msg instanceof MetaFrames f ? f.size() : ((MessageLite) msg).getSerializedSize();
  }

  @Override
  protected ByteBuf allocateBuffer(ChannelHandlerContext ctx, Object msg, boolean preferDirect) {
    int size = 4 + sizeOf(msg);
    return preferDirect ? ctx.alloc().ioBuffer(size, size) : ctx.alloc().heapBuffer(size, size);
  }

  @Override
  protected void encode(ChannelHandlerContext ctx, Object msg, ByteBuf out) throws Exception {
    int size = sizeOf(msg);
    out.writeInt(size);
    ByteBuffer body = out.nioBuffer(out.writerIndex(), size);
    CodedOutputStream cos = CodedOutputStream.newInstance(body);
    if (msg instanceof MetaFrames f) {
      f.writeTo(cos);
    } else {
      ((MessageLite) msg).writeTo(cos);
    }
    cos.flush();
    out.writerIndex(out.writerIndex() + size);
  }
}
