/** Encodings shared by the typed objects; not a public API. */
package io.vineyard.objects.internal;
