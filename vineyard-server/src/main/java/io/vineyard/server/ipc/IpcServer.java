package io.vineyard.server.ipc;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.DomainSocketChannel;
import io.netty.handler.codec.protobuf.ProtobufDecoder;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import io.vineyard.proto.ipc.Request;
import io.vineyard.server.service.DaemonService;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The daemon's UNIX-domain socket server (Netty, epoll). */
public final class IpcServer implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(IpcServer.class);

  private final Path socket;
  private final EventLoopGroup group;
  private final Channel channel;
  private final ConnectionGate gate;
  private final BufferBudget budget;

  private IpcServer(Path socket, EventLoopGroup group, Channel channel, ConnectionGate gate, BufferBudget budget) {
    this.socket = socket;
    this.group = group;
    this.channel = channel;
    this.gate = gate;
    this.budget = budget;
  }

  /**
   * Binds the socket and starts serving.
   *
   * @param socketMode permissions of the socket file, e.g. {@code rw-rw----}
   * @param maxFrame largest request accepted, in bytes
   * @param service what every connection's requests are handed to
   */
  public static IpcServer start(Path socket, String socketMode, int ioThreads, int maxFrame, DaemonService service) {
    return start(socket, socketMode, SocketAccess.open(-1), ioThreads, maxFrame, service);
  }

  /** As above, admitting only the peers {@code access} allows (checked on their credentials). */
  public static IpcServer start(
      Path socket, String socketMode, SocketAccess access, int ioThreads, int maxFrame, DaemonService service) {
    return start(socket, socketMode, access, ioThreads, maxFrame, IpcLimits.DEFAULT, service);
  }

  /** As above, with {@code limits} on connections, incomplete frames and their timeouts. */
  public static IpcServer start(
      Path socket, String socketMode, SocketAccess access, int ioThreads, int maxFrame, IpcLimits limits,
      DaemonService service) {
    if (limits.maxBufferedBytes() < maxFrame) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "the buffer for incomplete requests (--max-buffered, "
          + limits.maxBufferedBytes() + " bytes) must hold at least one frame of --max-frame (" + maxFrame + " bytes)");
    }
    if (!Epoll.isAvailable()) {
      throw new VineyardException(
          ErrorCode.UNAVAILABLE, "the epoll transport is not available: " + Epoll.unavailabilityCause());
    }
    prepareSocketPath(socket);
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(ioThreads, EpollIoHandler.newFactory());
    RefusalLog refusals = new RefusalLog(LOG);
    ConnectionGate gate = new ConnectionGate(limits, refusals);
    BufferBudget budget = new BufferBudget(limits.maxBufferedBytes());
    try {
      ServerBootstrap b =
          new ServerBootstrap()
              .group(group)
              .channel(EpollServerDomainSocketChannel.class)
              .childHandler(
                  new ChannelInitializer<DomainSocketChannel>() {
                    @Override
                    protected void initChannel(DomainSocketChannel ch) {
                      ch.pipeline().addLast("gate", gate);
                      configure(ch.pipeline(), new FrameDecoder(maxFrame, limits, budget, refusals),
                          new IpcHandler(service, maxFrame, access));
                    }
                  });
      Channel ch = b.bind(new DomainSocketAddress(socket.toFile())).syncUninterruptibly().channel();
      Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString(socketMode));
      LOG.info("listening on {} (mode {})", socket, socketMode);
      return new IpcServer(socket, group, ch, gate, budget);
    } catch (IOException | RuntimeException e) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      if (e instanceof VineyardException ve) {
        throw ve;
      }
      throw new VineyardException(ErrorCode.IO_ERROR, "cannot listen on " + socket + ": " + e, e);
    }
  }

  /**
   * Sets up one connection's pipeline: 4-byte big-endian length framing (at most {@code maxFrame}
   * bytes of payload) around protobuf requests and responses. Answers written while a read is in
   * progress are flushed together when it ends (one {@code writev} for all the requests one read
   * brought), so a client with many requests in flight costs the daemon one write per batch, not one
   * per answer; answers completed later (off the event loop) are flushed at once.
   */
  static void configure(ChannelPipeline p, int maxFrame, ChannelHandler handler) {
    IpcLimits framing = new IpcLimits(1, 1, IpcLimits.DEFAULT_REGISTER_TIMEOUT, IpcLimits.DEFAULT_FRAME_TIMEOUT,
        Math.max(maxFrame, IpcLimits.DEFAULT_MAX_BUFFERED), Math.max(64, maxFrame));
    configure(p, new FrameDecoder(maxFrame, framing, new BufferBudget(framing.maxBufferedBytes()), new RefusalLog(LOG)),
        handler);
  }

  private static void configure(ChannelPipeline p, FrameDecoder frames, ChannelHandler handler) {
    p.addLast("flush", new FlushConsolidationHandler(FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, false))
        .addLast("frame", frames)
        .addLast("decode", new ProtobufDecoder(Request.getDefaultInstance()))
        .addLast("encode", FrameEncoder.INSTANCE)
        .addLast("serve", handler);
  }

  /**
   * Creates the socket's directory and removes a socket file that no daemon listens on any more.
   * Called first at start, so that a second daemon on the same socket is told so before it binds
   * anything else.
   *
   * @throws VineyardException {@link ErrorCode#ALREADY_EXISTS} when a daemon listens there
   */
  public static void prepareSocketPath(Path socket) {
    try {
      Path parent = socket.toAbsolutePath().getParent();
      if (parent != null && !Files.isDirectory(parent)) {
        Files.createDirectories(parent);
        LOG.info("created {} for the socket (it did not exist)", parent);
      }
      if (Files.exists(socket, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        int type = (int) Files.getAttribute(socket, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS) & 0170000;
        if (type != 0140000) {
          // Never delete what is not a socket: a mistyped --socket must not cost a file.
          throw new VineyardException(ErrorCode.INVALID_ARGUMENT,
              "--socket " + socket + " exists and is not a socket; give a path that is free or holds a stale socket");
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
          probe.connect(UnixDomainSocketAddress.of(socket));
          throw new VineyardException(
              ErrorCode.ALREADY_EXISTS, "another daemon is already listening on " + socket);
        } catch (IOException stale) {
          LOG.info("removing stale socket {}", socket);
          Files.delete(socket);
        }
      }
    } catch (IOException e) {
      throw new VineyardException(ErrorCode.IO_ERROR, "cannot prepare socket path " + socket + ": " + e, e);
    }
  }

  public Path socket() {
    return socket;
  }

  /** Connections open now, registered or not. */
  public int openConnections() {
    return gate.open();
  }

  /** Bytes of incomplete request frames the connections hold now. */
  public long bufferedBytes() {
    return budget.used();
  }

  @Override
  public void close() {
    channel.close().syncUninterruptibly();
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    try {
      Files.deleteIfExists(socket);
    } catch (IOException e) {
      LOG.warn("cannot remove {}: {}", socket, e.toString());
    }
  }
}
