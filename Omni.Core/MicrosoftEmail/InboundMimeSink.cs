using Omni.Channels;

namespace Omni.MicrosoftEmail;

public enum MimeIngestOutcome
{
    Ingested,
    Duplicate,
    Quarantined,
}

/// <summary>
/// Where the Graph poller hands a message's raw MIME: the shared e-mail ingestion (raw MIME to Blob Storage,
/// attachments, threading, quarantine). Returns once the message is durably stored or quarantined.
/// </summary>
public interface IInboundMimeSink
{
    Task<MimeIngestOutcome> IngestAsync(Channel channel, string externalId, Stream mime, CancellationToken cancellationToken = default);
}
