package io.vineyard.server.testing;

import io.vineyard.VineyardException;
import io.vineyard.client.RpcClient;

/**
 * A gRPC client as a plain user would run it: {@code RpcClient.builder(endpoint).build()} with no
 * token given (so it tries the daemon's local token file), then one listing. Prints {@code LISTED n}
 * or {@code REFUSED CODE message}. Args: the endpoint.
 */
public final class RpcProbe {

  private RpcProbe() {}

  public static void main(String[] args) {
    try (RpcClient c = RpcClient.builder(args[0]).build()) {
      System.out.println("LISTED " + c.listObjects(null, 0, false).objects().size());
    } catch (VineyardException e) {
      System.out.println("REFUSED " + e.code() + " " + e.getMessage());
    }
  }
}
