/**
 * Typed objects built from blobs: {@link io.vineyard.objects.Tensor}, {@link
 * io.vineyard.objects.DataFrame} and {@link io.vineyard.objects.Table} over Apache Arrow, {@link
 * io.vineyard.objects.Graph} (CSR) and the global collections whose chunks live on several
 * instances. {@link io.vineyard.objects.ObjectTypes} resolves an object id to its typed object.
 */
package io.vineyard.objects;
