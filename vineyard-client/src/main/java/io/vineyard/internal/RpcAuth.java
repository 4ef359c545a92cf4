package io.vineyard.internal;

import io.grpc.Metadata;
import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What the daemon's gRPC port and its clients agree on about bearer tokens: the header, the trailer
 * that tells a local client where the daemon's token file is, and the format of token files (one
 * token a line; blank lines and lines starting with {@code #} are ignored).
 */
public final class RpcAuth {

  /** The request header carrying {@code Bearer <token>}. */
  public static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /**
   * Trailer of a refusal sent to a caller on a loopback address: the path of the daemon's local
   * token file, which only those who may use the daemon's socket can read.
   */
  public static final Metadata.Key<String> TOKEN_FILE = Metadata.Key.of("vineyard-token-file", Metadata.ASCII_STRING_MARSHALLER);

  public static final String BEARER = "Bearer ";

  private RpcAuth() {}

  /** Whether a token can travel in a header: 16 to 512 visible ASCII characters. */
  public static boolean isValidToken(String token) {
    if (token.length() < 16 || token.length() > 512) {
      return false;
    }
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      if (c <= ' ' || c > '~') {
        return false;
      }
    }
    return true;
  }

  /**
   * The tokens in a token file.
   *
   * @throws VineyardException {@link ErrorCode#PERMISSION_DENIED} when the file may not be read,
   *     {@link ErrorCode#NOT_FOUND} when it does not exist, {@link ErrorCode#INVALID_ARGUMENT} when
   *     it holds no token or a malformed one
   */
  public static List<String> readTokens(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.US_ASCII);
    } catch (AccessDeniedException e) {
      throw new VineyardException(ErrorCode.PERMISSION_DENIED, "token file " + file + " is not readable by this user", e);
    } catch (NoSuchFileException e) {
      throw new VineyardException(ErrorCode.NOT_FOUND, "token file " + file + " does not exist", e);
    } catch (IOException e) {
      throw new VineyardException(ErrorCode.IO_ERROR, "cannot read token file " + file + ": " + e.getMessage(), e);
    }
    List<String> tokens = new ArrayList<>();
    int line = 0;
    for (String l : text.split("\n", -1)) {
      line++;
      String t = l.strip();
      if (t.isEmpty() || t.startsWith("#")) {
        continue;
      }
      if (!isValidToken(t)) {
        throw new VineyardException(
            ErrorCode.INVALID_ARGUMENT,
            "token file " + file + ", line " + line + ": a token is 16 to 512 visible ASCII characters without spaces");
      }
      tokens.add(t);
    }
    if (tokens.isEmpty()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "token file " + file + " holds no token");
    }
    return List.copyOf(tokens);
  }
}
