package io.vineyard.client;

/**
 * What a trim gave back ({@link IpcClient#trim}).
 *
 * @param releasedBytes bytes of free shared memory whose pages were given back (pages never
 *     written count too)
 * @param rssBeforeBytes the daemon's resident set before the trim (0 where it cannot tell)
 * @param rssAfterBytes the same after it
 */
public record TrimResult(long releasedBytes, long rssBeforeBytes, long rssAfterBytes) {}
