using System.Collections.Concurrent;
using MimeKit;
using Omni.Channels;
using Omni.MicrosoftEmail;

namespace Omni.Tests.MicrosoftEmail;

/// <summary>Stands where the shared e-mail ingestion goes: keeps what the poller handed over, or fails on demand.</summary>
public sealed class RecordingMimeSink : IInboundMimeSink
{
    public ConcurrentQueue<(string CompanyId, string ChannelId, string ExternalId, MimeMessage Mime)> Received { get; } = new();

    /// <summary>While set, storing fails as if Table Storage were down.</summary>
    public bool Failing { get; set; }

    public async Task<MimeIngestOutcome> IngestAsync(Channel channel, string externalId, Stream mime, CancellationToken cancellationToken = default)
    {
        if (Failing)
        {
            throw new InvalidOperationException("Storage is down (test).");
        }

        var message = await MimeMessage.LoadAsync(mime, cancellationToken);
        var duplicate = Received.Any(r => r.ChannelId == channel.Id && r.Mime.MessageId == message.MessageId);
        Received.Enqueue((channel.CompanyId, channel.Id, externalId, message));
        return duplicate ? MimeIngestOutcome.Duplicate : MimeIngestOutcome.Ingested;
    }
}
