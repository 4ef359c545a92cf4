package io.vineyard.server.ipc;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.util.AttributeKey;
import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import io.vineyard.internal.Protos;
import io.vineyard.proto.ipc.Response;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Counts the daemon's open connections, in all and per user (by peer credentials), and refuses one
 * over either limit before it can send anything: it is answered with {@link ErrorCode#UNAVAILABLE}
 * (saying which limit) and closed. One gate is shared by every connection of a server.
 */
@ChannelHandler.Sharable
final class ConnectionGate extends ChannelInboundHandlerAdapter {

  private static final Logger LOG = LoggerFactory.getLogger(ConnectionGate.class);
  /** The uid a connection was counted under; absent when it was refused (or never counted). */
  private static final AttributeKey<Integer> COUNTED = AttributeKey.valueOf("vineyard.counted-uid");
  private static final AttributeKey<Boolean> REFUSED = AttributeKey.valueOf("vineyard.refused");

  private final IpcLimits limits;
  private final RefusalLog refusals;
  private final AtomicInteger open = new AtomicInteger();
  private final ConcurrentHashMap<Integer, AtomicInteger> perUid = new ConcurrentHashMap<>();

  ConnectionGate(IpcLimits limits, RefusalLog refusals) {
    this.limits = limits;
    this.refusals = refusals;
  }

  /** Connections open now (registered or not). */
  int open() {
    return open.get();
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    int uid = -1;
    String who = "a client";
    if (ctx.channel() instanceof EpollDomainSocketChannel ch) {
      try {
        var cred = ch.peerCredentials();
        uid = cred.uid();
        who = "pid=" + cred.pid() + " uid=" + cred.uid();
      } catch (java.io.IOException e) {
        // counted under -1: every peer without credentials shares one per-user allowance
      }
    }
    String refusal = null;
    if (open.incrementAndGet() > limits.maxConnections()) {
      open.decrementAndGet();
      refusal = "the daemon has " + limits.maxConnections() + " connections open, its limit (--max-connections)";
    } else {
      AtomicInteger mine = perUid.computeIfAbsent(uid, k -> new AtomicInteger());
      if (mine.incrementAndGet() > limits.maxConnectionsPerUid()) {
        mine.decrementAndGet();
        open.decrementAndGet();
        refusal = "user " + uid + " has " + limits.maxConnectionsPerUid()
            + " connections open, the limit per user (--max-connections-per-uid)";
      }
    }
    if (refusal != null) {
      refusals.refused(refusal, "refused connection from " + who);
      ctx.channel().attr(REFUSED).set(Boolean.TRUE); // what it sends is read and dropped
      Response err = Response.newBuilder()
          .setError(Protos.toProto(new VineyardException(ErrorCode.UNAVAILABLE, "connection refused: " + refusal)))
          .build();
      Refusal.send(ctx.channel(), err);
      return; // the handlers after this one never see it active
    }
    ctx.channel().attr(COUNTED).set(uid);
    super.channelActive(ctx);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
    if (ctx.channel().hasAttr(REFUSED)) {
      io.netty.util.ReferenceCountUtil.release(msg);
      return;
    }
    super.channelRead(ctx, msg);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    Integer uid = ctx.channel().attr(COUNTED).getAndSet(null);
    if (uid != null) {
      open.decrementAndGet();
      AtomicInteger mine = perUid.get(uid);
      if (mine != null) {
        mine.decrementAndGet(); // kept at 0: one small counter per user ever seen
      }
    }
    super.channelInactive(ctx);
  }
}
