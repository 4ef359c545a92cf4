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
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.internal.Protos;
import io.vineyard.proto.ipc.BlobLocation;
import io.vineyard.proto.ipc.CreateBlobRequest;
import io.vineyard.proto.ipc.CreateBlobResponse;
import io.vineyard.proto.ipc.CreateBlobsResponse;
import io.vineyard.proto.ipc.DeleteRequest;
import io.vineyard.proto.ipc.DeleteResponse;
import io.vineyard.proto.ipc.Empty;
import io.vineyard.proto.ipc.ExistsResponse;
import io.vineyard.proto.ipc.GetBlobsResponse;
import io.vineyard.proto.ipc.GetMetaResponse;
import io.vineyard.proto.ipc.GetNameResponse;
import io.vineyard.proto.ipc.InstancesResponse;
import io.vineyard.proto.ipc.ListRequest;
import io.vineyard.proto.ipc.LocateResponse;
import io.vineyard.proto.ipc.MigrateResponse;
import io.vineyard.proto.ipc.ObjectMeta;
import io.vineyard.proto.ipc.ProtocolVersion;
import io.vineyard.proto.ipc.PutMetaResponse;
import io.vineyard.proto.ipc.PutNameRequest;
import io.vineyard.proto.ipc.Region;
import io.vineyard.proto.ipc.RegisterResponse;
import io.vineyard.proto.ipc.Request;
import io.vineyard.proto.ipc.Response;
import io.vineyard.server.cluster.Cluster;
import io.vineyard.server.memory.SharedMemory;
import io.vineyard.server.store.ObjectStore;
import io.vineyard.server.store.Session;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
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
  private final Cluster cluster;
  private final String daemonVersion;
  private final int maxFrame;
  private final int defaultListLimit;
  private Session session;
  /** A cluster request is being served off the event loop; later requests wait in {@link #queued}. */
  private boolean busy;
  private final ArrayDeque<Request> queued = new ArrayDeque<>();

  IpcHandler(ObjectStore store, SharedMemory shm, Cluster cluster, String daemonVersion, int maxFrame, int defaultListLimit) {
    this.store = store;
    this.shm = shm;
    this.cluster = cluster;
    this.daemonVersion = daemonVersion;
    this.maxFrame = maxFrame;
    this.defaultListLimit = defaultListLimit;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, Request req) {
    if (busy) {
      // A cluster request is in flight: answers go out in request order, so this one waits.
      queued.add(req);
      return;
    }
    handle(ctx, req);
  }

  private void handle(ChannelHandlerContext ctx, Request req) {
    Response.Builder resp = Response.newBuilder().setRequestId(req.getRequestId());
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
        case CREATE_BLOBS -> {
          List<ObjectStore.Location> locs = new ArrayList<>();
          try {
            for (CreateBlobRequest c : req.getCreateBlobs().getBlobsList()) {
              locs.add(c.getSealWithData() ? createSealed(c) : store.createBlob(session, c.getSize()));
            }
          } catch (RuntimeException e) {
            for (ObjectStore.Location l : locs) {
              store.discard(session, l.id());
            }
            throw e;
          }
          CreateBlobsResponse.Builder b = CreateBlobsResponse.newBuilder();
          long bytes = 0;
          for (ObjectStore.Location loc : locs) {
            b.addBlobs(toProto(loc));
            bytes += loc.size();
          }
          resp.setCreateBlobs(b);
          announceRegion(ctx, resp, bytes);
        }
        case SEAL_BLOBS -> {
          store.sealAll(session, req.getSealBlobs().getIdsList(), req.getSealBlobs().getKeepPinned());
          resp.setSealBlobs(EMPTY);
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
          DeleteResponse.Builder d = delete(req.getDelete());
          if (cluster.afterDelete(d.getDeletedList())) {
            // Some of it was published: withdraw it before answering, so no instance sees it after.
            async(ctx, req, r -> {
              cluster.withdrawPending();
              r.setDelete(d);
            });
            return;
          }
          resp.setDelete(d);
        }
        case EXISTS -> {
          long id = req.getExists().getId();
          resp.setExists(ExistsResponse.newBuilder().setExists(store.exists(id) || cluster.isLocalGlobal(id)));
        }
        case PUT_META -> {
          ObjectMeta meta = req.getPutMeta().getMeta();
          if (meta.getGlobal()) {
            async(ctx, req, r -> r.setPutMeta(PutMetaResponse.newBuilder().setId(cluster.putGlobal(meta))));
            return;
          }
          resp.setPutMeta(PutMetaResponse.newBuilder().setId(store.putMeta(meta)));
        }
        case GET_META -> {
          long id = req.getGetMeta().getId();
          try {
            resp.setGetMeta(GetMetaResponse.newBuilder().setMeta(store.getMeta(id)));
          } catch (VineyardException e) {
            if (e.code() != ErrorCode.NOT_FOUND || (mintedHere(id) && !cluster.isLocalGlobal(id))) {
              throw e; // an id of this instance that is gone: no need to ask the backend
            }
            // Not held here: a global object of ours, or one persisted by another instance.
            async(ctx, req, r -> r.setGetMeta(GetMetaResponse.newBuilder().setMeta(cluster.getRemoteMeta(id))));
            return;
          }
        }
        case LIST -> {
          ListRequest l = req.getList();
          if (l.getGlobal()) {
            async(ctx, req, r -> r.setList(cluster.listGlobal(l.getTypenamePattern(), l.getLimit(), defaultListLimit)));
            return;
          }
          resp.setList(cluster.listLocal(l.getTypenamePattern(), l.getLimit()));
        }
        case PUT_NAME -> {
          PutNameRequest n = req.getPutName();
          if (cluster.nameNeedsCluster(n.getId())) {
            async(ctx, req, r -> {
              cluster.putClusterName(n.getName(), n.getId());
              r.setPutName(EMPTY);
            });
            return;
          }
          store.putName(n.getName(), n.getId());
          resp.setPutName(EMPTY);
        }
        case GET_NAME -> {
          String name = req.getGetName().getName();
          try {
            resp.setGetName(GetNameResponse.newBuilder().setId(store.getName(name)));
          } catch (VineyardException e) {
            if (e.code() != ErrorCode.NOT_FOUND) {
              throw e;
            }
            async(ctx, req, r -> r.setGetName(GetNameResponse.newBuilder().setId(cluster.getRemoteName(name))));
            return;
          }
        }
        case DROP_NAME -> {
          String name = req.getDropName().getName();
          if (cluster.nameIsPublished(name) || !store.hasName(name)) {
            async(ctx, req, r -> {
              cluster.dropClusterName(name);
              r.setDropName(EMPTY);
            });
            return;
          }
          store.dropName(name);
          resp.setDropName(EMPTY);
        }
        case STATS -> resp.setStats(store.stats());
        case PERSIST -> {
          long id = req.getPersist().getId();
          async(ctx, req, r -> {
            cluster.persist(id);
            r.setPersist(EMPTY);
          });
          return;
        }
        case INSTANCES -> {
          async(ctx, req, r -> r.setInstances(InstancesResponse.newBuilder().addAllInstances(cluster.instances())));
          return;
        }
        case LOCATE -> {
          long id = req.getLocate().getId();
          async(ctx, req, r -> r.setLocate(LocateResponse.newBuilder().addAllPlacements(cluster.locate(id))));
          return;
        }
        case MIGRATE -> {
          long id = req.getMigrate().getId();
          async(ctx, req, r -> {
            Cluster.Migrated m = cluster.migrate(id);
            r.setMigrate(MigrateResponse.newBuilder().setId(m.id()).setBytesCopied(m.bytesCopied()));
          });
          return;
        }
        case BODY_NOT_SET -> throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "empty or unknown request");
      }
    } catch (VineyardException e) {
      resp.clear().setRequestId(req.getRequestId()).setError(Protos.toProto(e));
    } catch (RuntimeException e) {
      LOG.error("{}: request {} failed", who(), req.getBodyCase(), e);
      resp.clear().setRequestId(req.getRequestId()).setError(Protos.toProto(new VineyardException(ErrorCode.INTERNAL, e.toString())));
    }
    respond(ctx, resp.build(), true);
  }

  private boolean mintedHere(long id) {
    return new ObjectId(id).instanceId() == store.instanceId();
  }

  /**
   * Writes a reply; a protocol error raised here (the client broke the protocol) closes the
   * connection, but not one that came back from a peer during cluster work ({@code fromClient} false).
   */
  private void respond(ChannelHandlerContext ctx, Response resp, boolean fromClient) {
    var f = ctx.writeAndFlush(resp);
    if (fromClient && resp.hasError() && resp.getError().getCode() == ErrorCode.PROTOCOL_ERROR.code()) {
      LOG.warn("{}: closing connection: {}", who(), resp.getError().getMessage());
      f.addListener(ChannelFutureListener.CLOSE);
    }
  }

  /** A request whose work blocks (the metadata backend, a peer): done off the event loop. */
  private interface ClusterWork {
    void fill(Response.Builder resp);
  }

  /**
   * Runs {@code work} on the cluster executor and answers when it is done. Until then this
   * connection reads nothing more, and requests already read wait in order, so answers stay in
   * request order.
   */
  private void async(ChannelHandlerContext ctx, Request req, ClusterWork work) {
    busy = true;
    ctx.channel().config().setAutoRead(false);
    String who = who();
    try {
      cluster.executor().execute(() -> {
        Response.Builder resp = Response.newBuilder().setRequestId(req.getRequestId());
        try {
          work.fill(resp);
        } catch (VineyardException e) {
          resp.clear().setRequestId(req.getRequestId()).setError(Protos.toProto(e));
        } catch (Throwable e) {
          LOG.error("{}: cluster request failed", who, e);
          resp.clear().setRequestId(req.getRequestId()).setError(Protos.toProto(new VineyardException(ErrorCode.INTERNAL, e.toString())));
        } finally {
          Response r = resp.build();
          ctx.executor().execute(() -> resume(ctx, r));
        }
      });
    } catch (RejectedExecutionException e) {
      // Shutting down: answer at once and read on.
      resume(ctx, Response.newBuilder().setRequestId(req.getRequestId())
          .setError(Protos.toProto(new VineyardException(ErrorCode.UNAVAILABLE, "vineyardd is shutting down")))
          .build());
    }
  }

  /** Answers a cluster request, then serves what waited behind it, and reads on when all is done. */
  private void resume(ChannelHandlerContext ctx, Response r) {
    busy = false;
    if (!ctx.channel().isActive()) {
      queued.clear();
      return;
    }
    respond(ctx, r, false);
    while (!busy && !queued.isEmpty()) {
      handle(ctx, queued.poll());
    }
    if (!busy) {
      ctx.channel().config().setAutoRead(true);
    }
  }

  /** Deletes from the store and the global objects of this daemon. */
  private DeleteResponse.Builder delete(DeleteRequest d) {
    List<Long> globals = cluster.globalsAmong(d.getIdsList());
    List<Long> local = d.getIdsList().stream().filter(id -> !globals.contains(id)).toList();
    ObjectStore.DeleteResult r =
        local.isEmpty() ? new ObjectStore.DeleteResult(List.of(), List.of()) : store.delete(local, d.getForce(), d.getDeep());
    List<Long> deleted = new ArrayList<>(r.deleted());
    deleted.addAll(globals);
    return DeleteResponse.newBuilder().addAllDeleted(deleted).addAllDeferred(r.deferred());
  }

  private void register(ChannelHandlerContext ctx, Request req, Response.Builder resp) {
    if (session != null) {
      throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "register sent twice");
    }
    if (req.getRegister().getVersion() != ProtocolVersion.PROTOCOL_VERSION_2) {
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
            .setVersion(ProtocolVersion.PROTOCOL_VERSION_2)
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
    queued.clear();
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
