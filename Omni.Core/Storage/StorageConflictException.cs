namespace Omni.Storage;

/// <summary>
/// Another writer changed or took the row first (an ETag mismatch, or a key that now exists). Stores throw this
/// instead of the SDK's <c>RequestFailedException</c>, so callers decide by meaning: re-read and try again, or answer 409.
/// </summary>
public sealed class StorageConflictException(string message, Exception? innerException = null) : Exception(message, innerException);
