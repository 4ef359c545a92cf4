package io.vineyard.server.ipc;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.handler.codec.TooLongFrameException;
import io.vineyard.ErrorCode;
import io.vineyard.MemorySize;
import io.vineyard.VineyardException;
import io.vineyard.internal.Protos;
import io.vineyard.proto.ipc.Response;
import java.util.concurrent.TimeUnit;

/**
 * Splits a connection's bytes into frames (a 4-byte big-endian length, then that many bytes) and
 * bounds what an incomplete one may cost:
 *
 * <ul>
 *   <li>a frame that arrives whole in one read is passed on as a slice of that read: no copy;
 *   <li>an incomplete one is gathered in a buffer that grows with the bytes received (never to the
 *       declared length before the bytes are there), charged against the server's {@link
 *       BufferBudget}; a connection that finds no room stops being read until there is;
 *   <li>before the connection has registered, a frame may have at most {@link
 *       IpcLimits#unregisteredMaxFrame} bytes, after it {@code --max-frame};
 *   <li>a frame begun must be complete within {@link IpcLimits#frameTimeout}, and the connection
 *       must register within {@link IpcLimits#registerTimeout}, else it is answered with an error
 *       and closed, and the refusal logged (once per cause, see {@link RefusalLog}).
 * </ul>
 *
 * <p>One per connection; everything runs on the connection's event loop.
 */
final class FrameDecoder extends ChannelInboundHandlerAdapter {

  /** First capacity of the buffer of an incomplete frame. */
  private static final int FIRST_CAPACITY = 16 << 10;
  /** The buffer doubles up to this, then grows by this much at a time. */
  private static final int GROWTH_STEP = 1 << 20;

  private final int maxFrame;
  private final IpcLimits limits;
  private final BufferBudget budget;
  private final RefusalLog refusals;

  private String peer = "a client";
  private boolean registered;
  /** The length field being read: its value so far and how many of its 4 bytes came. */
  private int headerValue;
  private int headerBytes;
  /** Declared length of the frame being read; -1 between frames. */
  private int length = -1;
  /** The part of an incomplete frame received so far; null when none is being gathered. */
  private ByteBuf body;
  /** Bytes charged against the budget for {@link #body}: its capacity. */
  private long charged;
  /** Bytes read while waiting for room in the budget, decoded when there is. */
  private ByteBuf pending;
  /** When the frame being read began (its first byte came); 0 between frames. */
  private long frameStarted;
  private boolean timerArmed;
  private boolean closing;

  FrameDecoder(int maxFrame, IpcLimits limits, BufferBudget budget, RefusalLog refusals) {
    this.maxFrame = maxFrame;
    this.limits = limits;
    this.budget = budget;
    this.refusals = refusals;
  }

  /** Called once the connection has registered: full-size frames from now on, and no register deadline. */
  static void registered(ChannelHandlerContext anyCtx) {
    FrameDecoder d = anyCtx.pipeline().get(FrameDecoder.class);
    if (d != null) {
      d.registered = true;
    }
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    if (ctx.channel() instanceof EpollDomainSocketChannel ch) {
      try {
        var cred = ch.peerCredentials();
        peer = "pid=" + cred.pid() + " uid=" + cred.uid();
      } catch (java.io.IOException e) {
        // "a client"
      }
    }
    ctx.executor().schedule(() -> {
      if (!registered && ctx.channel().isActive()) {
        closeFor(ctx, "a connection must register within " + seconds(limits.registerTimeout().toMillis())
            + " (--register-timeout)", "closed unregistered connection of " + peer);
      }
    }, limits.registerTimeout().toMillis(), TimeUnit.MILLISECONDS);
    super.channelActive(ctx);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf in)) {
      ctx.fireChannelRead(msg);
      return;
    }
    try {
      if (closing) {
        return;
      }
      if (pending != null) {
        pending.writeBytes(in); // read while waiting (a read already under way when reading stopped)
        return;
      }
      decode(ctx, in);
    } finally {
      in.release();
    }
  }

  private void decode(ChannelHandlerContext ctx, ByteBuf in) {
    while (in.isReadable() && !closing) {
      if (length < 0) {
        if (frameStarted == 0) {
          frameStarted = System.nanoTime();
        }
        while (headerBytes < 4 && in.isReadable()) {
          headerValue = (headerValue << 8) | in.readUnsignedByte();
          headerBytes++;
        }
        if (headerBytes < 4) {
          return;
        }
        long declared = headerValue & 0xffffffffL; // unsigned
        headerValue = 0;
        headerBytes = 0;
        int limit = registered ? maxFrame : limits.unregisteredMaxFrame();
        if (declared > limit) {
          closing = true;
          throw new TooLongFrameException(registered
              ? "a request may take at most " + limit + " bytes (--max-frame), this one announced " + declared
              : "before registering, a request may take at most " + limit + " bytes, this one announced " + declared);
        }
        length = (int) declared;
      }
      if (body == null && in.readableBytes() >= length) {
        ByteBuf frame = in.readRetainedSlice(length); // whole in this read: passed on without a copy
        frameDone();
        ctx.fireChannelRead(frame);
        continue;
      }
      if (!in.isReadable()) {
        return; // only the header came
      }
      int n = Math.min(in.readableBytes(), length - (body == null ? 0 : body.readableBytes()));
      if (!makeRoom(ctx, n)) {
        pending = ctx.alloc().buffer(in.readableBytes());
        pending.writeBytes(in);
        return;
      }
      body.writeBytes(in, n);
      if (body.readableBytes() == length) {
        ByteBuf frame = body;
        long refund = charged;
        body = null;
        charged = 0;
        frameDone();
        try {
          ctx.fireChannelRead(frame);
        } finally {
          budget.refund(refund); // the frame has been decoded (and its buffer released) by now
        }
      }
    }
  }

  /**
   * Makes {@link #body} able to take {@code n} more bytes, charging its growth to the budget.
   *
   * @return false when the budget has no room: reading stops until it has
   */
  private boolean makeRoom(ChannelHandlerContext ctx, int n) {
    int have = body == null ? 0 : body.readableBytes();
    int capacity = body == null ? 0 : body.capacity();
    if (have + n <= capacity) {
      return true;
    }
    long want = Math.max(have + n, capacity < GROWTH_STEP ? Math.max(FIRST_CAPACITY, 2L * capacity) : capacity + GROWTH_STEP);
    int newCapacity = (int) Math.min(length, want);
    if (!budget.tryCharge(newCapacity - capacity)) {
      pause(ctx);
      return false;
    }
    charged += newCapacity - capacity;
    if (body == null) {
      body = ctx.alloc().buffer(newCapacity, length);
    } else {
      body.capacity(newCapacity);
    }
    return true;
  }

  private void pause(ChannelHandlerContext ctx) {
    ctx.channel().config().setAutoRead(false);
    budget.await(() -> ctx.executor().execute(() -> resume(ctx)));
  }

  private void resume(ChannelHandlerContext ctx) {
    if (closing || !ctx.channel().isActive() || pending == null) {
      return;
    }
    ByteBuf p = pending;
    pending = null;
    try {
      decode(ctx, p);
    } catch (RuntimeException e) {
      ctx.fireExceptionCaught(e);
      return;
    } finally {
      if (p.isReadable() && pending == null && !closing) {
        pending = p; // paused again before all of it was decoded
      } else {
        p.release();
      }
    }
    if (pending == null && !closing) {
      ctx.channel().config().setAutoRead(true);
      armTimer(ctx);
    }
  }

  private void frameDone() {
    length = -1;
    frameStarted = 0;
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    armTimer(ctx);
    ctx.fireChannelReadComplete();
  }

  /** While a frame is incomplete, checks on it when its time is up. */
  private void armTimer(ChannelHandlerContext ctx) {
    if (timerArmed || closing || frameStarted == 0) {
      return;
    }
    timerArmed = true;
    long left = frameStarted + limits.frameTimeout().toNanos() - System.nanoTime();
    ctx.executor().schedule(() -> {
      timerArmed = false;
      if (closing || !ctx.channel().isActive() || frameStarted == 0) {
        return;
      }
      long age = System.nanoTime() - frameStarted;
      if (age >= limits.frameTimeout().toNanos()) {
        int got = body == null ? 0 : body.readableBytes();
        closeFor(ctx, "a request frame must arrive whole within " + seconds(limits.frameTimeout().toMillis())
            + " (--frame-timeout)", "closed connection of " + (registered ? "" : "unregistered ") + peer + " after "
            + (length < 0 ? "part of a frame header" : got + " of a frame of " + length + " bytes"));
      } else {
        armTimer(ctx); // another frame began since
      }
    }, Math.max(1, left), TimeUnit.NANOSECONDS);
  }

  /** Answers with an error saying why, closes the connection, and logs it (once per cause). */
  private void closeFor(ChannelHandlerContext ctx, String cause, String detail) {
    closing = true;
    refusals.refused(cause, detail);
    release();
    Response err = Response.newBuilder()
        .setError(Protos.toProto(new VineyardException(ErrorCode.PROTOCOL_ERROR, "connection closed: " + cause)))
        .build();
    Refusal.send(ctx.channel(), err);
  }

  private void release() {
    if (body != null) {
      body.release();
      body = null;
    }
    if (pending != null) {
      pending.release();
      pending = null;
    }
    long c = charged;
    charged = 0;
    budget.refund(c);
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    release();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    closing = true;
    release();
    super.channelInactive(ctx);
  }

  private static String seconds(long millis) {
    return millis % 1000 == 0 ? millis / 1000 + " s" : millis + " ms";
  }

  /** For log lines: how much the budget holds. */
  static String describe(BufferBudget b) {
    return MemorySize.format(b.used()) + " of " + MemorySize.format(b.limit());
  }
}
