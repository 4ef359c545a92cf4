/**
 * Internal to Vineyard: native calls, the socket transport and wire conversions. Not a public API;
 * it may change in any release.
 */
package io.vineyard.internal;
