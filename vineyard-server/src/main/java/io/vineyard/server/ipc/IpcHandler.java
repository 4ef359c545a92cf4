package io.vineyard.server.ipc;

import io.netty.channel.ChannelFuture;
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
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.internal.GrpcErrors;
import io.vineyard.internal.Protos;
import io.vineyard.proto.ipc.FieldValue;
import io.vineyard.proto.ipc.BlobLocation;
import io.vineyard.proto.ipc.CreateBlobRequest;
import io.vineyard.proto.ipc.CreateBlobResponse;
import io.vineyard.proto.ipc.CreateBlobsResponse;
import io.vineyard.proto.ipc.DeleteRequest;
import io.vineyard.proto.ipc.DeleteResponse;
import io.vineyard.proto.ipc.Empty;
import io.vineyard.proto.ipc.ExistsResponse;
import io.vineyard.proto.ipc.GetBlobsResponse;
import io.vineyard.proto.ipc.GetNameResponse;
import io.vineyard.proto.ipc.InstancesResponse;
import io.vineyard.proto.ipc.ListRequest;
import io.vineyard.proto.ipc.LocateResponse;
import io.vineyard.proto.ipc.MigrateResponse;
import io.vineyard.proto.ipc.ProtocolVersion;
import io.vineyard.proto.ipc.PutMetaResponse;
import io.vineyard.proto.ipc.Region;
import io.vineyard.proto.ipc.RegisterResponse;
import io.vineyard.proto.ipc.Request;
import io.vineyard.proto.ipc.Response;
import io.vineyard.proto.ipc.TrimResponse;
import io.vineyard.server.memory.MemoryArena;
import io.vineyard.server.service.DaemonService;
import io.vineyard.server.service.DaemonService.BlobSpec;
import io.vineyard.server.store.ObjectStore.Location;
import io.vineyard.server.store.RequestLimits;
import io.vineyard.server.store.Session;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves one client connection: decodes a request, hands it to the {@link DaemonService}, encodes
 * the answer. Requests are started in the order they arrive; each answer goes out as soon as it is
 * ready, tagged with its request id, so a request that waits (on etcd, a peer, spill I/O) never
 * holds back the answers to later ones. The region descriptor goes out just before the first answer
 * that refers to the region. A protocol violation (bad frame, unknown request, anything before
 * register) is answered with an error and closes this connection only.
 *
 * <p>Everything here runs on the connection's event loop, answers that completed elsewhere
 * included: they are handed back to it before they are written.
 */
final class IpcHandler extends SimpleChannelInboundHandler<Request> {

  private static final Logger LOG = LoggerFactory.getLogger(IpcHandler.class);

  /**
   * Shortest time between two full collections asked for by trims: any client may send a trim, and
   * a loop of them must not keep the daemon in stop-the-world pauses.
   */
  static final long HEAP_COLLECT_INTERVAL_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(10);

  /** When the last asked-for full collection ran ({@link System#nanoTime()}), or 0. */
  private static final java.util.concurrent.atomic.AtomicLong LAST_HEAP_COLLECT = new java.util.concurrent.atomic.AtomicLong();

  /** Where a trim's collection and the wait for the resident set to settle run: off the event loops. */
  private static final java.util.concurrent.Executor TRIM_FINISHER = r -> Thread.ofVirtual().name("vineyardd-trim").start(r);

  /** A full collection, unless one ran less than {@code intervalNanos} ago; returns whether it ran. */
  static boolean collectHeapAtMostEvery(long intervalNanos) {
    long now = System.nanoTime();
    long last = LAST_HEAP_COLLECT.get();
    if (last != 0 && now - last < intervalNanos || !LAST_HEAP_COLLECT.compareAndSet(last, now)) {
      return false;
    }
    System.gc();
    return true;
  }
  private static final Empty EMPTY = Empty.getDefaultInstance();
  /** Waiting requests one connection may have; beyond it the daemon stops reading that connection until some finish. */
  static final int MAX_WAITING = 1024;
  /** Room in an answer's frame for what is added after its size is checked: request id, regions. */
  static final int REPLY_SLACK = 4096;
  /** Longest error message sent, in bytes (client input in it is cut shorter still). */
  static final int MAX_ERROR_MESSAGE = 8192;

  private final DaemonService service;
  private final int maxFrame;
  private Session session;
  /** Requests answered later (off the event loop), not yet answered. */
  private int waiting;
  private boolean readingPaused;

  private final SocketAccess access;

  IpcHandler(DaemonService service, int maxFrame) {
    this(service, maxFrame, SocketAccess.open(-1));
  }

  IpcHandler(DaemonService service, int maxFrame, SocketAccess access) {
    this.service = service;
    this.maxFrame = maxFrame;
    this.access = access;
  }

  /**
   * With --allow-uids/--allow-gids, refuses a peer whose credentials are not listed before it can
   * send anything: the refusal is logged and answered with PERMISSION_DENIED, then the connection closes.
   */
  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    if (access.restricted()) {
      String refusal = null;
      if (ctx.channel() instanceof EpollDomainSocketChannel ch) {
        try {
          var cred = ch.peerCredentials();
          int gid = cred.gids().length > 0 ? cred.gids()[0] : -1; // SO_PEERCRED: the primary group only
          if (!access.admits(cred.uid(), gid)) {
            refusal = "refused connection from pid=" + cred.pid() + " uid=" + cred.uid() + " gid=" + gid
                + ": not in --allow-uids/--allow-gids";
          }
        } catch (java.io.IOException e) {
          refusal = "refused connection: its peer credentials are unavailable (" + e.getMessage() + ")";
        }
      } else {
        refusal = "refused connection: peer credentials cannot be checked on this transport";
      }
      if (refusal != null) {
        LOG.warn("{}", refusal);
        Response err = Response.newBuilder()
            .setError(Protos.toProto(new VineyardException(ErrorCode.PERMISSION_DENIED,
                "this daemon admits only the users and groups it lists (--allow-uids/--allow-gids)")))
            .build();
        ctx.writeAndFlush(err).addListener(ChannelFutureListener.CLOSE);
        return;
      }
    }
    super.channelActive(ctx);
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, Request req) {
    long rid = req.getRequestId();
    try {
      if (session == null && req.getBodyCase() != Request.BodyCase.REGISTER) {
        throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "the first request must be register, got " + req.getBodyCase());
      }
      dispatch(ctx, req, rid);
    } catch (RuntimeException e) {
      write(ctx, rid, null, e);
    }
  }

  private void dispatch(ChannelHandlerContext ctx, Request req, long rid) {
    switch (req.getBodyCase()) {
      case REGISTER -> write(ctx, rid, register(ctx, req), null);
      case CREATE_BLOB -> {
        CreateBlobRequest c = req.getCreateBlob();
        if (c.getSealWithData()) {
          // Sealed at once from the bytes it carries: the client maps nothing.
          answer(ctx, rid, service.createBlobs(session, List.of(spec(c))).thenApply(List::getFirst),
              (r, loc) -> r.setCreateBlob(CreateBlobResponse.newBuilder().setBlob(toProto(loc))), null);
        } else {
          answer(ctx, rid, service.createBlob(session, c.getSize()),
              (r, loc) -> r.setCreateBlob(CreateBlobResponse.newBuilder().setBlob(toProto(loc))),
              loc -> Needs.toWrite(List.of(loc)));
        }
      }
      case CREATE_BLOBS -> {
        service.limits().checkIds(req.getCreateBlobs().getBlobsCount(), "create_blobs");
        List<BlobSpec> specs = new ArrayList<>();
        req.getCreateBlobs().getBlobsList().forEach(c -> specs.add(spec(c)));
        answer(ctx, rid, service.createBlobs(session, specs), (r, locs) -> {
          CreateBlobsResponse.Builder b = CreateBlobsResponse.newBuilder();
          locs.forEach(l -> b.addBlobs(toProto(l)));
          r.setCreateBlobs(b);
        }, locs -> {
          // Only the blobs the client fills in place need their region, and writable.
          List<Location> inPlace = new ArrayList<>();
          for (int i = 0; i < locs.size(); i++) {
            if (specs.get(i).sealedData() == null) {
              inPlace.add(locs.get(i));
            }
          }
          return Needs.toWrite(inPlace);
        });
      }
      case SEAL_BLOB -> {
        service.seal(session, req.getSealBlob().getId(), req.getSealBlob().getKeepPinned());
        write(ctx, rid, Response.newBuilder().setSealBlob(EMPTY), null);
      }
      case SEAL_BLOBS -> {
        service.sealAll(session, req.getSealBlobs().getIdsList(), req.getSealBlobs().getKeepPinned());
        write(ctx, rid, Response.newBuilder().setSealBlobs(EMPTY), null);
      }
      case ABORT_BLOB -> {
        service.abort(session, req.getAbortBlob().getId());
        write(ctx, rid, Response.newBuilder().setAbortBlob(EMPTY), null);
      }
      case GET_BLOBS -> answer(ctx, rid, service.getBlobs(session, req.getGetBlobs().getIdsList()), (r, locs) -> {
        GetBlobsResponse.Builder b = GetBlobsResponse.newBuilder();
        locs.forEach(l -> b.addBlobs(toProto(l)));
        r.setGetBlobs(b);
      }, Needs::toRead);
      case RELEASE -> service.release(session, req.getRelease().getIdsList()); // one-way: no answer
      case DELETE -> {
        DeleteRequest d = req.getDelete();
        answer(ctx, rid, service.delete(d.getIdsList(), d.getForce(), d.getDeep()),
            (r, res) -> r.setDelete(DeleteResponse.newBuilder().addAllDeleted(res.deleted()).addAllDeferred(res.deferred())));
      }
      case EXISTS -> write(ctx, rid,
          Response.newBuilder().setExists(ExistsResponse.newBuilder().setExists(service.exists(req.getExists().getId()))), null);
      case PUT_META -> answer(ctx, rid, service.putMeta(metaToStore(req.getPutMeta().getMeta(), service.limits())),
          (r, id) -> r.setPutMeta(PutMetaResponse.newBuilder().setId(id.value())));
      case GET_META -> answerFrame(ctx, rid, service.getMeta(req.getGetMeta().getId()), m -> {
        MetaFrames frame = MetaFrames.getMeta(rid, m);
        if (frame.size() > service.maxReply() - REPLY_SLACK) {
          throw service.replyTooLarge("get_meta", frame.size());
        }
        return frame;
      });
      case LIST -> {
        ListRequest l = req.getList();
        answerFrame(ctx, rid, service.list(l.getTypenamePattern(), l.getLimit(), l.getGlobal(), l.getTopLevel()),
            listing -> MetaFrames.list(rid, listing, service.maxReply() - REPLY_SLACK));
      }
      case PUT_NAME -> answer(ctx, rid, service.putName(req.getPutName().getName(), req.getPutName().getId()),
          (r, v) -> r.setPutName(EMPTY));
      case GET_NAME -> answer(ctx, rid, service.getName(req.getGetName().getName()),
          (r, id) -> r.setGetName(GetNameResponse.newBuilder().setId(id.value())));
      case DROP_NAME -> answer(ctx, rid, service.dropName(req.getDropName().getName()), (r, v) -> r.setDropName(EMPTY));
      case STATS -> write(ctx, rid, Response.newBuilder().setStats(Protos.toProto(service.stats())), null);
      case PERSIST -> answer(ctx, rid, service.persist(req.getPersist().getId()), (r, v) -> r.setPersist(EMPTY));
      case INSTANCES -> answer(ctx, rid, service.instances(), (r, list) -> {
        InstancesResponse.Builder b = InstancesResponse.newBuilder();
        list.forEach(i -> b.addInstances(Protos.toProto(i)));
        r.setInstances(b);
      });
      case LOCATE -> answer(ctx, rid, service.locate(req.getLocate().getId()), (r, list) -> {
        LocateResponse.Builder b = LocateResponse.newBuilder();
        list.forEach(p -> b.addPlacements(Protos.toProto(p)));
        r.setLocate(b);
      });
      case MIGRATE -> answer(ctx, rid, service.migrate(req.getMigrate().getId()),
          (r, m) -> r.setMigrate(MigrateResponse.newBuilder().setId(m.id().value()).setBytesCopied(m.bytesCopied())));
      case TRIM -> {
        long rssBefore = Rss.bytes();
        // An asked-for trim also gives back the heap the daemon grew to and no longer uses (a full
        // collection: G1 then uncommits what is free beyond its -Xms, in the background, so the
        // resident set is read once it has settled) and malloc's free memory. Not on the event loop.
        answer(ctx, rid, service.arena().trimAsync().thenApplyAsync(n -> {
          boolean collected = collectHeapAtMostEvery(HEAP_COLLECT_INTERVAL_NANOS);
          io.vineyard.internal.Libc.mallocTrim();
          return new long[] {n, collected ? Rss.settled() : Rss.bytes()};
        }, TRIM_FINISHER), (r, t) -> r.setTrim(TrimResponse.newBuilder()
            .setReleasedBytes(t[0]).setRssBeforeBytes(rssBefore).setRssAfterBytes(t[1])));
      }
      case BODY_NOT_SET -> throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "empty or unknown request");
    }
  }

  /**
   * The metadata of a put_meta as the store takes it, members as references (what a member carries
   * beyond its id is not used). What could not be stored and read back is refused here with
   * INVALID_ARGUMENT, before anything is built from it: more fields or members than allowed, a field
   * without a value, a member without an id. The store checks the rest ({@code RequestLimits#checkMeta}).
   */
  static ObjectMeta metaToStore(io.vineyard.proto.ipc.ObjectMeta p, RequestLimits limits) {
    if (p.getFieldsCount() > limits.maxFields() || p.getMembersCount() > limits.maxFields()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "an object may have at most " + limits.maxFields()
          + " fields and as many members (--max-fields), this one has " + p.getFieldsCount() + " and " + p.getMembersCount());
    }
    if (p.getTypename().isBlank()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "an object needs a typename");
    }
    Map<String, Object> fields = new LinkedHashMap<>();
    for (Map.Entry<String, FieldValue> f : p.getFieldsMap().entrySet()) {
      if (f.getValue().getValueCase() == FieldValue.ValueCase.VALUE_NOT_SET) {
        throw new VineyardException(
            ErrorCode.INVALID_ARGUMENT, "field '" + RequestLimits.echo(f.getKey()) + "' has no value (none of its value cases is set)");
      }
      fields.put(f.getKey(), Protos.fromProto(f.getValue()));
    }
    Map<String, ObjectMeta> members = new LinkedHashMap<>();
    for (Map.Entry<String, io.vineyard.proto.ipc.ObjectMeta> m : p.getMembersMap().entrySet()) {
      if (m.getValue().getId() == 0) {
        throw new VineyardException(
            ErrorCode.INVALID_ARGUMENT, "member '" + RequestLimits.echo(m.getKey()) + "' names no object (id 0)");
      }
      members.put(m.getKey(), ObjectMeta.reference(new ObjectId(m.getValue().getId())));
    }
    return ObjectMeta.of(null, p.getTypename(), p.getNbytes(), 0, p.getGlobal(), fields, members);
  }

  private static BlobSpec spec(CreateBlobRequest c) {
    return new BlobSpec(c.getSize(), c.getSealWithData() ? c.getData().asReadOnlyByteBuffer() : null);
  }

  /**
   * The blobs of an answer whose regions the client must be able to map: to read them (a get:
   * read-only descriptors) or to write them in place (a create: read-write ones).
   */
  private record Needs(List<Location> toRead, List<Location> toWrite) {
    static Needs toRead(List<Location> locs) {
      return new Needs(locs, List.of());
    }

    static Needs toWrite(List<Location> locs) {
      return new Needs(List.of(), locs);
    }
  }

  private <T> void answer(ChannelHandlerContext ctx, long rid, CompletableFuture<T> f, BiConsumer<Response.Builder, T> fill) {
    answer(ctx, rid, f, fill, null);
  }

  /**
   * Answers when {@code f} completes: at once if it has (the common case), else later, from the
   * event loop, without holding back the requests read meanwhile.
   *
   * @param needs the regions the answer refers to (null: none)
   */
  private <T> void answer(
      ChannelHandlerContext ctx, long rid, CompletableFuture<T> f, BiConsumer<Response.Builder, T> fill,
      Function<T, Needs> needs) {
    whenDone(ctx, f, () -> complete(ctx, rid, f, fill, needs));
  }

  /** As {@link #answer}, for answers encoded straight into their frame ({@link MetaFrames}). */
  private <T> void answerFrame(ChannelHandlerContext ctx, long rid, CompletableFuture<T> f, Function<T, MetaFrames> encode) {
    whenDone(ctx, f, () -> completeFrame(ctx, rid, f, encode));
  }

  /** Runs {@code deliver} once {@code f} is done: at once if it is, else on the event loop, reading on meanwhile. */
  private void whenDone(ChannelHandlerContext ctx, CompletableFuture<?> f, Runnable deliver) {
    if (f.isDone()) {
      deliver.run();
      return;
    }
    waiting++;
    if (waiting >= MAX_WAITING && !readingPaused) {
      readingPaused = true;
      ctx.channel().config().setAutoRead(false);
    }
    f.whenComplete((v, e) -> ctx.executor().execute(() -> {
      waiting--;
      if (readingPaused && waiting < MAX_WAITING / 2) {
        readingPaused = false;
        ctx.channel().config().setAutoRead(true);
      }
      deliver.run();
    }));
  }

  private <T> void completeFrame(ChannelHandlerContext ctx, long rid, CompletableFuture<T> f, Function<T, MetaFrames> encode) {
    T value;
    try {
      value = f.join();
    } catch (RuntimeException e) {
      write(ctx, rid, null, e);
      return;
    }
    if (!ctx.channel().isActive()) {
      return;
    }
    MetaFrames frame;
    try {
      frame = encode.apply(value);
    } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
      write(ctx, rid, null, e);
      return;
    }
    afterSend(ctx, rid, "metadata", ctx.writeAndFlush(frame));
  }

  private <T> void complete(
      ChannelHandlerContext ctx, long rid, CompletableFuture<T> f, BiConsumer<Response.Builder, T> fill,
      Function<T, Needs> needs) {
    T value;
    try {
      value = f.join();
    } catch (RuntimeException e) {
      write(ctx, rid, null, e);
      return;
    }
    if (!ctx.channel().isActive()) {
      return; // what the answer handed out (pins, unsealed blobs) belongs to the session the disconnect closes
    }
    Response.Builder r = Response.newBuilder();
    Needs regions;
    try {
      fill.accept(r, value);
      regions = needs == null ? null : needs.apply(value);
    } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
      write(ctx, rid, null, e); // one answer that cannot be built fails that request, not the connection
      return;
    }
    int size = r.build().getSerializedSize();
    if (size > service.maxReply() - REPLY_SLACK) {
      undo(r.getBodyCase(), value); // what the answer would have handed out is given back
      write(ctx, rid, null, service.replyTooLarge(r.getBodyCase().name().toLowerCase(java.util.Locale.ROOT), size));
      return;
    }
    if (regions != null) {
      announceRegions(ctx, r, regions);
    }
    write(ctx, rid, r, null);
  }

  /**
   * An answer that cannot be encoded or sent must not vanish: the client would wait for it until
   * its timeout. The connection is closed instead (the client's calls fail at once), with the cause.
   */
  private void afterSend(ChannelHandlerContext ctx, long rid, Object kind, ChannelFuture done) {
    done.addListener(w -> {
      if (!w.isSuccess()) {
        if (w.cause() instanceof java.nio.channels.ClosedChannelException || !ctx.channel().isActive()) {
          LOG.debug("{}: answer to request {} not sent, the connection is closed", who(), rid);
        } else {
          LOG.warn("{}: closing connection: the answer to request {} ({}) could not be sent: {}", who(), rid, kind, w.cause().toString());
        }
        ctx.close();
      }
    });
  }

  /** Gives back what an answer that is not sent would have handed out: the pins of a get, the blobs of a create. */
  private void undo(Response.BodyCase kind, Object value) {
    if (!(value instanceof List<?> list)) {
      return;
    }
    List<Location> locs = new ArrayList<>();
    list.forEach(v -> {
      if (v instanceof Location l) {
        locs.add(l);
      }
    });
    switch (kind) {
      case GET_BLOBS -> service.release(session, locs.stream().map(Location::id).toList());
      case CREATE_BLOBS -> service.discard(session, locs);
      default -> { }
    }
  }

  /** Writes an answer, or an error; a protocol error (the client broke the protocol) closes the connection. */
  private void write(ChannelHandlerContext ctx, long rid, Response.Builder r, Throwable failure) {
    if (!ctx.channel().isActive()) {
      return;
    }
    if (failure != null) {
      VineyardException e = DaemonService.asVineyard(failure);
      r = Response.newBuilder().setError(io.vineyard.proto.ipc.Error.newBuilder()
          .setCode(e.code().code()).setMessage(GrpcErrors.shorten(e.reason(), MAX_ERROR_MESSAGE)));
    }
    r.setRequestId(rid);
    Response.BodyCase kind = r.getBodyCase();
    var done = ctx.writeAndFlush(r.build());
    afterSend(ctx, rid, kind, done);
    if (failure != null && r.getError().getCode() == ErrorCode.PROTOCOL_ERROR.code()) {
      LOG.warn("{}: closing connection: {}", who(), r.getError().getMessage());
      done.addListener(ChannelFutureListener.CLOSE);
    }
  }

  /**
   * Sends, the first time this client needs it, the descriptor of each region the answer refers to:
   * read-only for blobs it reads, read-write only for blobs it writes in place. Written just before
   * the answer (nothing can fail in between), in the order the answer lists the regions.
   */
  private void announceRegions(ChannelHandlerContext ctx, Response.Builder r, Needs needs) {
    announce(ctx, r, needs.toRead(), false);
    announce(ctx, r, needs.toWrite(), true);
  }

  private void announce(ChannelHandlerContext ctx, Response.Builder r, List<Location> locs, boolean writable) {
    for (Location l : locs) {
      if (l.size() > 0 && session.markRegionSent(l.region(), writable)) {
        MemoryArena.RegionInfo region = service.arena().region(l.region());
        ctx.write(new FileDescriptor(region.fd(writable)));
        r.addNewRegions(Region.newBuilder().setId(region.id()).setSize(region.size()).setWritable(writable));
      }
    }
  }

  private Response.Builder register(ChannelHandlerContext ctx, Request req) {
    if (session != null) {
      throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "register sent twice");
    }
    if (req.getRegister().getVersion() != ProtocolVersion.PROTOCOL_VERSION_2) {
      throw new VineyardException(
          ErrorCode.PROTOCOL_ERROR,
          "unsupported protocol version " + req.getRegister().getVersion() + " (this daemon speaks "
              + ProtocolVersion.PROTOCOL_VERSION_2 + "; upgrade the client)");
    }
    String peer = "";
    int uid = -1;
    if (ctx.channel() instanceof EpollDomainSocketChannel ch) {
      try {
        var cred = ch.peerCredentials();
        uid = cred.uid();
        peer = " pid=" + cred.pid() + " uid=" + cred.uid();
      } catch (java.io.IOException e) {
        peer = " (peer credentials unavailable: " + e.getMessage() + ")";
      }
    }
    if (access.isolateUsers()) {
      if (uid < 0) {
        throw new VineyardException(ErrorCode.PERMISSION_DENIED,
            "this daemon keeps users apart (--isolation user) and cannot tell which user this client runs as");
      }
      session = service.openSession(req.getRegister().getClientName(), uid);
    } else {
      session = service.openSession(req.getRegister().getClientName());
    }
    FrameDecoder.registered(ctx); // full-size frames from now on, and no register deadline
    LOG.debug("{} registered{}", session, peer);
    return Response.newBuilder().setRegister(
        RegisterResponse.newBuilder()
            .setVersion(ProtocolVersion.PROTOCOL_VERSION_2)
            .setInstanceId(service.instanceId())
            .setClientId(session.id())
            .setDaemonVersion(service.version())
            .setMaxFrame(maxFrame));
  }

  // ---------------------------------------------------------------- encoding

  private static BlobLocation toProto(Location loc) {
    return BlobLocation.newBuilder()
        .setId(loc.id())
        .setRegion(loc.range().region())
        .setOffset(loc.range().offset())
        .setSize(loc.size())
        .build();
  }

  private String who() {
    return session == null ? "unregistered client" : session.toString();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    if (session != null) {
      service.closeSession(session);
      LOG.debug("{} disconnected", session);
    }
    super.channelInactive(ctx);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    String why;
    if (cause instanceof TooLongFrameException) {
      why = "frame too long: " + cause.getMessage();
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
