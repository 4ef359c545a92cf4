package io.vineyard.server.ipc;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.MessageLite;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;
import java.nio.ByteBuffer;

/**
 * Encodes a protobuf message as one frame, a 4-byte big-endian length and the message, in a single
 * buffer: one allocation and one buffer to write per answer (a separate length prefix would be a
 * second buffer in every {@code writev}).
 */
@ChannelHandler.Sharable
final class FrameEncoder extends MessageToByteEncoder<MessageLite> {

  static final FrameEncoder INSTANCE = new FrameEncoder();

  private FrameEncoder() {
    super(MessageLite.class);
  }

  @Override
  protected ByteBuf allocateBuffer(ChannelHandlerContext ctx, MessageLite msg, boolean preferDirect) {
    int size = 4 + msg.getSerializedSize();
    return preferDirect ? ctx.alloc().ioBuffer(size, size) : ctx.alloc().heapBuffer(size, size);
  }

  @Override
  protected void encode(ChannelHandlerContext ctx, MessageLite msg, ByteBuf out) throws Exception {
    int size = msg.getSerializedSize();
    out.writeInt(size);
    ByteBuffer body = out.nioBuffer(out.writerIndex(), size);
    CodedOutputStream cos = CodedOutputStream.newInstance(body);
    msg.writeTo(cos);
    cos.flush();
    out.writerIndex(out.writerIndex() + size);
  }
}
