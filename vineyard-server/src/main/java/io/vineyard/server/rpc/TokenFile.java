package io.vineyard.server.rpc;

import io.vineyard.VineyardException;
import io.vineyard.internal.RpcAuth;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A file of bearer tokens (one a line), read again whenever it changes (another inode, size or
 * modification time), so that tokens can be rotated without restarting the daemon. A file that
 * cannot be read or holds no valid token after a change keeps the tokens read before, with a
 * warning; at start it must be good.
 */
public final class TokenFile {

  private static final Logger LOG = LoggerFactory.getLogger(TokenFile.class);

  private record Version(Object fileKey, long modified, long size) {}

  private final Path path;
  private volatile Version version;
  private volatile List<String> tokens;

  private TokenFile(Path path, Version version, List<String> tokens) {
    this.path = path;
    this.version = version;
    this.tokens = tokens;
  }

  /**
   * Reads the file.
   *
   * @throws VineyardException as {@link RpcAuth#readTokens}
   */
  public static TokenFile open(Path path) {
    Version v = version(path);
    return new TokenFile(path, v, RpcAuth.readTokens(path));
  }

  public Path path() {
    return path;
  }

  /** The tokens in the file now. */
  public List<String> tokens() {
    Version now = version(path);
    if (now != null && !now.equals(version)) {
      synchronized (this) {
        if (!now.equals(version)) {
          version = now;
          try {
            tokens = RpcAuth.readTokens(path);
            LOG.info("read {} token(s) from {}", tokens.size(), path);
          } catch (VineyardException e) {
            LOG.warn("keeping the tokens read before from {}: {}", path, e.reason());
          }
        }
      }
    }
    return tokens;
  }

  private static Version version(Path path) {
    try {
      BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class);
      return new Version(Objects.requireNonNullElse(a.fileKey(), ""), a.lastModifiedTime().to(java.util.concurrent.TimeUnit.NANOSECONDS), a.size());
    } catch (IOException e) {
      return null; // gone for a moment (replaced by a rename): keep what was read
    }
  }
}
