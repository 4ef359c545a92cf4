package io.vineyard.internal;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import io.vineyard.proto.ipc.Response;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Matches responses to the requests waiting for them, by request id, on one connection where many
 * requests are in flight at once and responses come in any order.
 *
 * <h2>Who reads</h2>
 *
 * <p>Leader/follower, not a dedicated reader thread: a thread waiting for its reply becomes the
 * <em>leader</em> if no one else is reading, reads frames for everyone and hands each to its waiter
 * (the other threads, <em>followers</em>, are parked), and when its own reply has come it steps down
 * and wakes one follower to lead. With one thread, the common case, a call is a send and a blocking
 * read on the caller's own thread, exactly as fast as a client with no demultiplexing; a dedicated
 * reader would add a thread hand-off (a wake-up and a context switch, tens of microseconds on a
 * busy machine) to every call. Asynchronous requests have no caller waiting, so while any are in
 * flight and no caller leads, one background thread per connection leads instead; it is started on
 * the first asynchronous request and ends with the connection.
 *
 * <p>The leader only ever runs this class's code and {@link FrameSource#next}, never a caller's
 * callback: {@link Pending#onDone} hooks must not block or write to the connection (the client's
 * complete a future whose dependent stages run on an executor).
 * A thread that asks to wait while it is the leader would wait for itself, and is refused with
 * {@link ErrorCode#ILLEGAL_STATE}.
 *
 * <h2>Deadlines</h2>
 *
 * <p>A request that gets no reply by its deadline fails with {@link ErrorCode#UNAVAILABLE} and is
 * <em>abandoned</em>, but the connection stays up: its entry stays here so that a reply arriving
 * later is recognised and handed to the request's {@code onAbandoned} hook (which releases what the
 * reply pins) instead of being taken for a protocol error. Descriptors a late reply carries are
 * taken by the frame source as for any frame, so they are never lost or misattributed. A
 * synchronous waiter watches its own deadline; the deadlines of asynchronous requests are checked by
 * whichever thread reads replies, every {@link #SWEEP_NANOS} or so (no timer per request).
 *
 * <p>When the connection breaks, {@link #failAll} fails every waiter at once.
 */
public final class ReplyDemux {

  /** Where the leader gets responses from. */
  public interface FrameSource {
    /**
     * The next response, or null when none arrived within a short tick (so the leader can check its
     * deadline); with {@code wait} false, only one already received (no system call, no waiting).
     * Runs on the leader's thread only, one call at a time.
     *
     * @throws VineyardException when the connection broke (every waiter is then failed with it)
     */
    Response next(boolean wait);
  }

  private static final int WAITING = 0;
  private static final int DONE = 1;
  private static final int FAILED = 2;
  private static final int ABANDONED = 3;
  /**
   * Taken (by one thread, with a CAS from WAITING) while the outcome is written; a request is done
   * only once its final state is set after that write, so that a waiter that sees it done also sees
   * its response or failure.
   */
  private static final int COMPLETING = 4;

  /** Longest a follower parks before it looks again (a safety net; hand-offs wake it sooner). */
  private static final long FOLLOWER_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

  /**
   * How often the reading thread looks for asynchronous requests past their deadline (it reads at
   * least every {@link FrameSource#next} tick, so a deadline is noticed within about a tick of this).
   */
  private static final long SWEEP_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

  /** A request in flight. */
  public static final class Pending {
    final long id;
    final String what;
    final boolean async;
    final Consumer<Response> onAbandoned;
    final Consumer<Pending> onDone;
    final AtomicInteger state = new AtomicInteger(WAITING);
    volatile Thread waiter;
    /** For an asynchronous request once sent: when it is abandoned, and what to say then. */
    volatile long deadlineNanos;
    volatile Duration timeout;
    private Response response;
    private VineyardException failure;

    Pending(long id, String what, boolean async, Consumer<Response> onAbandoned, Consumer<Pending> onDone) {
      this.id = id;
      this.what = what;
      this.async = async;
      this.onAbandoned = onAbandoned;
      this.onDone = onDone;
    }

    public long id() {
      return id;
    }

    public boolean isDone() {
      int s = state.get();
      return s != WAITING && s != COMPLETING;
    }

    /**
     * The response once done; else throws what failed it (a fresh exception per caller, so that
     * its stack trace names the caller).
     */
    public Response result() {
      int s = state.get();
      if (s == DONE) {
        return response;
      }
      if (s == WAITING || s == COMPLETING) {
        throw new VineyardException(ErrorCode.INTERNAL, what + " has no result yet");
      }
      VineyardException f = failure;
      return throwCopy(f);
    }

    private static Response throwCopy(VineyardException f) {
      throw new VineyardException(f.code(), f.reason(), f);
    }
  }

  private final ConcurrentHashMap<Long, Pending> pending = new ConcurrentHashMap<>();
  private final ReentrantLock leader = new ReentrantLock();
  private final AtomicInteger asyncInFlight = new AtomicInteger();
  private final FrameSource source;
  private final String name;
  private volatile VineyardException failed;
  private volatile Thread background;
  /** When the reading thread last looked for expired asynchronous requests (its own field). */
  private long lastSweep = System.nanoTime();
  private final Object backgroundStart = new Object();

  public ReplyDemux(FrameSource source, String name) {
    this.source = source;
    this.name = name;
  }

  /**
   * Registers a request before it is sent.
   *
   * @param what for messages ("get_blobs")
   * @param onAbandoned given a reply that arrives after the request was abandoned; may be null
   * @param onDone for an asynchronous request (null for a synchronous one): called once, by the
   *     thread that completes it, which may be the leader; it must not block
   * @throws VineyardException when the connection already failed
   */
  public Pending register(long id, String what, Consumer<Response> onAbandoned, Consumer<Pending> onDone) {
    Pending p = new Pending(id, what, onDone != null, onAbandoned, onDone);
    if (p.async) {
      asyncInFlight.incrementAndGet();
    }
    if (pending.putIfAbsent(id, p) != null) {
      throw new VineyardException(ErrorCode.INTERNAL, "request id " + id + " is already in flight");
    }
    VineyardException f = failed;
    if (f != null) {
      // failAll may have drained the map before this entry went in.
      fail(p, f);
      pending.remove(id, p);
    }
    return p;
  }

  /**
   * For an asynchronous request, once sent: makes sure someone reads its reply, and abandons it
   * when no reply came within {@code timeout}.
   */
  public void started(Pending p, Duration timeout) {
    if (p.isDone()) {
      return;
    }
    p.timeout = timeout;
    p.deadlineNanos = System.nanoTime() + timeout.toNanos();
    Thread bg = background;
    if (bg == null) {
      bg = startBackground();
    }
    if (!leader.isLocked()) {
      LockSupport.unpark(bg);
    }
  }

  /** The request could not be sent: it fails with {@code why} and leaves no entry. */
  public void failOne(Pending p, VineyardException why) {
    pending.remove(p.id, p);
    fail(p, why);
  }

  /**
   * Waits for the reply to {@code p} until {@code deadlineNanos} ({@link System#nanoTime()} scale),
   * reading frames for every waiter while no one else does.
   *
   * @return the response (which may carry an error from the daemon)
   * @throws VineyardException {@link ErrorCode#UNAVAILABLE} when the deadline passed (the request
   *     is then abandoned) or the connection failed; {@link ErrorCode#ILLEGAL_STATE} when called by
   *     the thread that is reading frames
   */
  public Response await(Pending p, long deadlineNanos, Duration timeout) {
    if (leader.isHeldByCurrentThread()) {
      failOne(p, illegalWaitOnReader());
      return p.result();
    }
    Thread me = Thread.currentThread();
    p.waiter = me;
    try {
      while (!p.isDone()) {
        if (leader.tryLock()) {
          try {
            lead(p, deadlineNanos, timeout);
          } finally {
            leader.unlock();
          }
          handOff();
          break;
        }
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
          abandon(p, timeout);
          break;
        }
        LockSupport.parkNanos(this, Math.min(left, FOLLOWER_PARK_NANOS));
      }
    } finally {
      p.waiter = null;
    }
    if (!leader.isLocked()) {
      // Woken to lead just as our reply came: pass the turn on.
      handOff();
    }
    return p.result();
  }

  /**
   * Waits until the asynchronous request {@code p} is done, reading frames for everyone while no one
   * else does (as a synchronous caller would), so that a thread joining an async call's future gets
   * its reply without a hand-off. Returns at once on the reading thread, or before {@link #started}.
   * Never throws: the outcome is in {@code p} (a deadline that passes abandons it).
   */
  public void awaitAsync(Pending p) {
    Duration t = p.timeout;
    if (p.isDone() || t == null || leader.isHeldByCurrentThread()) {
      return;
    }
    try {
      await(p, p.deadlineNanos, t);
    } catch (VineyardException e) {
      // failed or abandoned: p says so
    }
  }

  /**
   * Reads frames until {@code p} is done or its deadline passes, then hands out the replies that
   * came in the same reads (they are in the buffer already: a next leader would only find them after
   * its wake-up); called holding the leader lock.
   */
  private void lead(Pending p, long deadlineNanos, Duration timeout) {
    while (!p.isDone()) {
      if (System.nanoTime() - deadlineNanos >= 0) {
        abandon(p, timeout);
        return;
      }
      if (!readOne()) {
        return;
      }
    }
    drainReceived();
  }

  /** Dispatches every response already received, without reading more. */
  private void drainReceived() {
    while (failed == null) {
      Response r;
      try {
        r = source.next(false);
      } catch (VineyardException e) {
        failAll(e);
        return;
      } catch (RuntimeException e) {
        failAll(new VineyardException(ErrorCode.INTERNAL, "reading a response failed: " + e, e));
        return;
      }
      if (r == null) {
        return;
      }
      dispatch(r);
    }
  }

  /** Reads and dispatches one frame (or one tick of nothing); false once the connection failed. */
  private boolean readOne() {
    if (failed != null) {
      return false;
    }
    Response r;
    try {
      r = source.next(true);
    } catch (VineyardException e) {
      failAll(e);
      return false;
    } catch (RuntimeException e) {
      failAll(new VineyardException(ErrorCode.INTERNAL, "reading a response failed: " + e, e));
      return false;
    }
    if (r != null) {
      dispatch(r);
    }
    if (asyncInFlight.get() > 0) {
      long now = System.nanoTime();
      if (now - lastSweep >= SWEEP_NANOS) {
        lastSweep = now;
        abandonExpired(now);
      }
    }
    return true;
  }

  /** Abandons the asynchronous requests whose deadline has passed; run by the reading thread. */
  private void abandonExpired(long now) {
    for (Pending p : pending.values()) {
      Duration t = p.timeout;
      if (p.async && t != null && !p.isDone() && now - p.deadlineNanos >= 0) {
        abandon(p, t);
      }
    }
  }

  /** Wakes one thread to lead: a parked synchronous waiter, else the background reader. */
  private void handOff() {
    if (pending.isEmpty() || leader.isLocked()) {
      return;
    }
    for (Pending q : pending.values()) {
      Thread t = q.waiter;
      if (t != null && !q.isDone()) {
        LockSupport.unpark(t);
        return;
      }
    }
    if (asyncInFlight.get() > 0) {
      Thread bg = background;
      if (bg != null) {
        LockSupport.unpark(bg);
      }
    }
  }

  /** The error the daemon sent just before closing the connection (request id 0), if any. */
  private volatile io.vineyard.proto.ipc.Error closingError;

  /**
   * Hands a response to its request; a reply to an abandoned request goes to its hook, one to an
   * unknown id is dropped (it cannot be anyone's).
   *
   * @return whether a waiting request took it
   */
  public boolean dispatch(Response r) {
    Pending p = pending.remove(r.getRequestId());
    if (p == null) {
      // Not ours: id 0 is an error the daemon could not attribute (it closes the connection next,
      // which fails everyone, with this reason); any other unknown id cannot belong to a waiter either.
      if (r.getRequestId() == 0 && r.hasError()) {
        closingError = r.getError();
      }
      return false;
    }
    if (p.state.compareAndSet(WAITING, COMPLETING)) {
      p.response = r;
      p.state.set(DONE);
      finished(p);
      return true;
    }
    // Abandoned by its deadline: release what the late reply holds.
    if (p.onAbandoned != null && !r.hasError()) {
      try {
        p.onAbandoned.accept(r);
      } catch (RuntimeException e) {
        // Best effort: the daemon drops the pins with the connection anyway.
      }
    }
    return false;
  }

  /**
   * Gives up waiting for {@code p}: it fails with {@link ErrorCode#UNAVAILABLE}, and a reply that
   * still comes is given to its {@code onAbandoned} hook.
   */
  void abandon(Pending p, Duration timeout) {
    VineyardException e =
        new VineyardException(
            ErrorCode.UNAVAILABLE,
            "no reply from the daemon to " + p.what + (timeout != null ? " within " + timeout : " by its deadline")
                + " (" + name + "); the request is abandoned (a late reply is dropped) and the connection stays open");
    if (p.state.compareAndSet(WAITING, COMPLETING)) {
      p.failure = e;
      p.state.set(ABANDONED);
      if (failed != null) {
        pending.remove(p.id, p);
      }
      finished(p);
    }
  }

  private void fail(Pending p, VineyardException e) {
    if (p.state.compareAndSet(WAITING, COMPLETING)) {
      p.failure = e;
      p.state.set(FAILED);
      finished(p);
    }
  }

  private void finished(Pending p) {
    if (p.async) {
      asyncInFlight.decrementAndGet();
      try {
        p.onDone.accept(p);
      } catch (RuntimeException e) {
        // The hook only hands off to an executor; nothing sensible to do here.
      }
      Thread w = p.waiter; // a thread joining the request's future (see awaitAsync)
      if (w != null) {
        LockSupport.unpark(w);
      }
    } else {
      Thread w = p.waiter;
      if (w != null) {
        LockSupport.unpark(w);
      }
    }
  }

  /**
   * Fails every request in flight, and every one registered later, with {@code e} (the connection
   * broke or was closed). Idempotent: the first cause wins.
   */
  public void failAll(VineyardException e) {
    synchronized (this) {
      if (failed == null) {
        io.vineyard.proto.ipc.Error why = closingError;
        failed = why == null ? e : new VineyardException(ErrorCode.fromCode(why.getCode()),
            "the daemon closed the connection: " + why.getMessage(), e);
      }
    }
    VineyardException cause = failed;
    List<Pending> all = new ArrayList<>(pending.values());
    for (Pending p : all) {
      pending.remove(p.id, p);
      fail(p, cause);
    }
    Thread bg = background;
    if (bg != null) {
      LockSupport.unpark(bg);
    }
  }

  /** Requests registered and not answered, failed or abandoned-and-answered yet. */
  public int inFlight() {
    return pending.size();
  }

  /**
   * Whether a request in flight is still awaited (not abandoned: an abandoned one keeps its entry
   * until its late reply, which may never come). Stops at the first such request.
   */
  public boolean anyAwaited() {
    for (Pending p : pending.values()) {
      if (p.state.get() == WAITING) {
        return true;
      }
    }
    return false;
  }

  /** Whether {@link #failAll} was called. */
  public boolean hasFailed() {
    return failed != null;
  }

  /** Whether the calling thread is the one reading frames now. */
  public boolean isReaderThread() {
    return leader.isHeldByCurrentThread();
  }

  /** Waits up to {@code timeout} for the background reader (if any) to end, after {@link #failAll}. */
  public void joinBackground(Duration timeout) throws InterruptedException {
    Thread bg = background;
    if (bg != null && bg != Thread.currentThread()) {
      bg.join(Math.max(1, timeout.toMillis()));
    }
  }

  private VineyardException illegalWaitOnReader() {
    return new VineyardException(
        ErrorCode.ILLEGAL_STATE,
        "a blocking call on the thread that reads the connection's replies would wait for itself (" + name
            + "): do not make blocking client calls from code run while completing a reply; use the async"
            + " variants or another executor");
  }

  private Thread startBackground() {
    synchronized (backgroundStart) {
      if (background == null) {
        Thread t = Thread.ofPlatform().daemon().name("vineyard-ipc-reader " + name).unstarted(this::backgroundLoop);
        background = t;
        t.start();
      }
      return background;
    }
  }

  /** Leads while asynchronous requests are in flight and no caller leads; parks otherwise. */
  private void backgroundLoop() {
    while (failed == null) {
      if (asyncInFlight.get() > 0 && leader.tryLock()) {
        try {
          while (failed == null && asyncInFlight.get() > 0) {
            if (!readOne()) {
              break;
            }
          }
        } finally {
          leader.unlock();
        }
        handOff();
      } else {
        LockSupport.parkNanos(this, FOLLOWER_PARK_NANOS * 5);
      }
    }
  }
}
