package io.vineyard.server.store;

import io.netty.util.internal.PlatformDependent;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;

/**
 * Direct memory the daemon's JVM holds: the JDK's direct buffers plus what Netty allocates itself
 * (without the JDK's accounting), i.e. connections' read and write buffers. Shared memory (the
 * region files) is not in it.
 */
final class DirectMemory {

  private static final BufferPoolMXBean DIRECT = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
      .filter(b -> b.getName().equals("direct")).findFirst().orElse(null);

  private DirectMemory() {}

  static long used() {
    long jdk = DIRECT == null ? 0 : Math.max(0, DIRECT.getMemoryUsed());
    long netty = PlatformDependent.usedDirectMemory(); // -1 when Netty leaves the accounting to the JDK
    return jdk + Math.max(0, netty);
  }
}
