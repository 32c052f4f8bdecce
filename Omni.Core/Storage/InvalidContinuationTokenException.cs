namespace Omni.Storage;

/// <summary>
/// A listing was given a continuationToken it never handed out (edited, truncated, from another API). It is the
/// caller's mistake, not the store's: the HTTP layer answers it with a 400 problem.
/// </summary>
public sealed class InvalidContinuationTokenException(string message, Exception? innerException = null) : Exception(message, innerException);
