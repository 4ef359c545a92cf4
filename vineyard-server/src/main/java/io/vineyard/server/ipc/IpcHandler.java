package io.vineyard.server.ipc;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.unix.FileDescriptor;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import io.vineyard.internal.Protos;
import io.vineyard.proto.ipc.BlobLocation;
import io.vineyard.proto.ipc.CreateBlobRequest;
import io.vineyard.proto.ipc.CreateBlobResponse;
import io.vineyard.proto.ipc.DeleteResponse;
import io.vineyard.proto.ipc.Empty;
import io.vineyard.proto.ipc.ExistsResponse;
import io.vineyard.proto.ipc.GetBlobsResponse;
import io.vineyard.proto.ipc.GetMetaResponse;
import io.vineyard.proto.ipc.GetNameResponse;
import io.vineyard.proto.ipc.ListEntry;
import io.vineyard.proto.ipc.ListResponse;
import io.vineyard.proto.ipc.ProtocolVersion;
import io.vineyard.proto.ipc.PutMetaResponse;
import io.vineyard.proto.ipc.Region;
import io.vineyard.proto.ipc.RegisterResponse;
import io.vineyard.proto.ipc.Request;
import io.vineyard.proto.ipc.Response;
import io.vineyard.server.memory.SharedMemory;
import io.vineyard.server.store.ObjectStore;
import io.vineyard.server.store.Session;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves one client connection: decodes requests, applies them to the store and answers in order,
 * passing the shared-memory descriptor the first time a reply refers to it. A protocol violation
 * (bad frame, unknown request, anything before register) is answered with an error and closes this
 * connection only.
 */
final class IpcHandler extends SimpleChannelInboundHandler<Request> {

  private static final Logger LOG = LoggerFactory.getLogger(IpcHandler.class);
  private static final Empty EMPTY = Empty.getDefaultInstance();

  private final ObjectStore store;
  private final SharedMemory shm;
  private final String daemonVersion;
  private final int maxFrame;
  private Session session;

  IpcHandler(ObjectStore store, SharedMemory shm, String daemonVersion, int maxFrame) {
    this.store = store;
    this.shm = shm;
    this.daemonVersion = daemonVersion;
    this.maxFrame = maxFrame;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, Request req) {
    Response.Builder resp = Response.newBuilder();
    boolean fatal = false;
    try {
      if (session == null && req.getBodyCase() != Request.BodyCase.REGISTER) {
        throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "the first request must be register, got " + req.getBodyCase());
      }
      switch (req.getBodyCase()) {
        case REGISTER -> register(ctx, req, resp);
        case CREATE_BLOB -> {
          CreateBlobRequest c = req.getCreateBlob();
          if (c.getSealWithData()) {
            resp.setCreateBlob(CreateBlobResponse.newBuilder().setBlob(toProto(createSealed(c))));
          } else {
            ObjectStore.Location loc = store.createBlob(session, c.getSize());
            resp.setCreateBlob(CreateBlobResponse.newBuilder().setBlob(toProto(loc)));
            announceRegion(ctx, resp, loc.size());
          }
        }
        case SEAL_BLOB -> {
          store.seal(session, req.getSealBlob().getId(), req.getSealBlob().getKeepPinned());
          resp.setSealBlob(EMPTY);
        }
        case ABORT_BLOB -> {
          store.abort(session, req.getAbortBlob().getId());
          resp.setAbortBlob(EMPTY);
        }
        case GET_BLOBS -> {
          List<ObjectStore.Location> locs = store.getBlobs(session, req.getGetBlobs().getIdsList());
          GetBlobsResponse.Builder b = GetBlobsResponse.newBuilder();
          long bytes = 0;
          for (ObjectStore.Location loc : locs) {
            b.addBlobs(toProto(loc));
            bytes += loc.size();
          }
          resp.setGetBlobs(b);
          announceRegion(ctx, resp, bytes);
        }
        case RELEASE -> {
          // One-way: no response.
          store.release(session, req.getRelease().getIdsList());
          return;
        }
        case DELETE -> {
          ObjectStore.DeleteResult r =
              store.delete(req.getDelete().getIdsList(), req.getDelete().getForce(), req.getDelete().getDeep());
          resp.setDelete(DeleteResponse.newBuilder().addAllDeleted(r.deleted()).addAllDeferred(r.deferred()));
        }
        case EXISTS -> resp.setExists(ExistsResponse.newBuilder().setExists(store.exists(req.getExists().getId())));
        case PUT_META -> resp.setPutMeta(PutMetaResponse.newBuilder().setId(store.putMeta(req.getPutMeta().getMeta())));
        case GET_META -> resp.setGetMeta(GetMetaResponse.newBuilder().setMeta(store.getMeta(req.getGetMeta().getId())));
        case LIST -> {
          ObjectStore.Listing listing = store.list(req.getList().getTypenamePattern(), req.getList().getLimit());
          ListResponse.Builder b = ListResponse.newBuilder().setTruncated(listing.truncated());
          for (ObjectStore.Listed e : listing.entries()) {
            b.addEntries(ListEntry.newBuilder().setMeta(e.meta()).addAllNames(e.names()));
          }
          resp.setList(b);
        }
        case PUT_NAME -> {
          store.putName(req.getPutName().getName(), req.getPutName().getId());
          resp.setPutName(EMPTY);
        }
        case GET_NAME -> resp.setGetName(GetNameResponse.newBuilder().setId(store.getName(req.getGetName().getName())));
        case DROP_NAME -> {
          store.dropName(req.getDropName().getName());
          resp.setDropName(EMPTY);
        }
        case STATS -> resp.setStats(store.stats());
        case BODY_NOT_SET -> throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "empty or unknown request");
      }
    } catch (VineyardException e) {
      resp.clear().setError(Protos.toProto(e));
      fatal = e.code() == ErrorCode.PROTOCOL_ERROR;
    } catch (RuntimeException e) {
      LOG.error("{}: request {} failed", who(), req.getBodyCase(), e);
      resp.clear().setError(Protos.toProto(new VineyardException(ErrorCode.INTERNAL, e.toString())));
    }
    var f = ctx.writeAndFlush(resp.build());
    if (fatal) {
      LOG.warn("{}: closing connection: {}", who(), resp.getError().getMessage());
      f.addListener(ChannelFutureListener.CLOSE);
    }
  }

  private void register(ChannelHandlerContext ctx, Request req, Response.Builder resp) {
    if (session != null) {
      throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "register sent twice");
    }
    if (req.getRegister().getVersion() != ProtocolVersion.PROTOCOL_VERSION_1) {
      throw new VineyardException(
          ErrorCode.PROTOCOL_ERROR, "unsupported protocol version " + req.getRegister().getVersion());
    }
    session = store.openSession(req.getRegister().getClientName());
    String peer = "";
    if (ctx.channel() instanceof EpollDomainSocketChannel ch) {
      try {
        var cred = ch.peerCredentials();
        peer = " pid=" + cred.pid() + " uid=" + cred.uid();
      } catch (java.io.IOException e) {
        peer = " (peer credentials unavailable: " + e.getMessage() + ")";
      }
    }
    LOG.debug("{} registered{}", session, peer);
    resp.setRegister(
        RegisterResponse.newBuilder()
            .setVersion(ProtocolVersion.PROTOCOL_VERSION_1)
            .setInstanceId(store.instanceId())
            .setClientId(session.id())
            .setDaemonVersion(daemonVersion)
            .setMaxFrame(maxFrame));
  }

  /** Creates a blob from bytes carried in the request and seals it: small blobs in one round trip. */
  private ObjectStore.Location createSealed(CreateBlobRequest c) {
    if (c.getData().size() != c.getSize()) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT, "blob of " + c.getSize() + " bytes sent with " + c.getData().size() + " bytes of data");
    }
    ObjectStore.Location loc = store.createBlob(session, c.getSize());
    try {
      if (loc.size() > 0) {
        c.getData().copyTo(shm.mapping().asSlice(loc.offset(), loc.size()).asByteBuffer());
      }
      store.seal(session, loc.id(), false);
    } catch (RuntimeException e) {
      store.abort(session, loc.id());
      throw e;
    }
    return loc;
  }

  /** Sends the region's descriptor ahead of the reply the first time this client needs it. */
  private void announceRegion(ChannelHandlerContext ctx, Response.Builder resp, long bytes) {
    if (bytes > 0 && session.markRegionSent(ObjectStore.REGION_ID)) {
      ctx.write(new FileDescriptor(shm.fd()));
      resp.addNewRegions(Region.newBuilder().setId(ObjectStore.REGION_ID).setSize(shm.size()));
    }
  }

  private static BlobLocation toProto(ObjectStore.Location loc) {
    return BlobLocation.newBuilder()
        .setId(loc.id())
        .setRegion(loc.region())
        .setOffset(loc.offset())
        .setSize(loc.size())
        .build();
  }

  private String who() {
    return session == null ? "unregistered client" : session.toString();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    if (session != null) {
      store.closeSession(session);
      LOG.debug("{} disconnected", session);
    }
    super.channelInactive(ctx);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    String why;
    if (cause instanceof TooLongFrameException) {
      why = "frame too long (limit " + maxFrame + " bytes): " + cause.getMessage();
    } else if (cause instanceof CorruptedFrameException || cause instanceof DecoderException) {
      why = "malformed frame: " + (cause.getCause() != null ? cause.getCause().getMessage() : cause.getMessage());
    } else if (cause instanceof java.io.IOException) {
      LOG.debug("{}: connection error: {}", who(), cause.toString());
      ctx.close();
      return;
    } else {
      LOG.error("{}: unexpected error", who(), cause);
      why = "internal error: " + cause;
    }
    LOG.warn("{}: closing connection: {}", who(), why);
    if (ctx.channel().isActive()) {
      Response err =
          Response.newBuilder()
              .setError(Protos.toProto(new VineyardException(ErrorCode.PROTOCOL_ERROR, why)))
              .build();
      ctx.writeAndFlush(err).addListener(ChannelFutureListener.CLOSE);
    } else {
      ctx.close();
    }
  }
}
