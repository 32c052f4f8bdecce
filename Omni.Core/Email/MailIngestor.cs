using System.Security.Cryptography;
using System.Text;
using Azure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MimeKit;
using Omni.Channels;
using Omni.Conversations;

namespace Omni.Email;

public enum IngestOutcome
{
    Ingested,
    Duplicate,
    Quarantined,
}

/// <summary>
/// Turns one raw e-mail (from IMAP, POP3 or Graph's <c>$value</c>) into a stored inbound message, whatever the
/// channel type: raw MIME and attachments to Blob Storage, then <see cref="IConversationStore.AppendInboundAsync"/>
/// with ExternalId = Message-ID (or a hash of the raw bytes when it has none) and the In-Reply-To/References ids as
/// conversation keys. Oversized or unparseable mail is quarantined instead. Returns only once the outcome is
/// durable, so the caller may then mark the message read on the server.
/// </summary>
public sealed partial class MailIngestor(
    IConversationStore conversations,
    MailArchive archive,
    MailQuarantine quarantine,
    IngestBudget budget,
    IOptions<EmailOptions> options,
    ILogger<MailIngestor> logger)
{
    /// <summary>The most mail a poller reads ahead of storing it as one batch (<see cref="IngestManyAsync"/>).</summary>
    public const int BatchSize = 25;

    /// <summary>What one batch may hold, read ahead: copies on disk past a few hundred KiB, bounded all the same.</summary>
    public const long BatchBytes = 16L * 1024 * 1024;

    /// <summary>The largest mail read ahead into a batch; larger mail is ingested alone, within the ingest budget.</summary>
    public long MaxBatchedBytes => Math.Min(BatchBytes / 4, options.Value.MaxMessageBytes);

    /// <summary>Whether mail of the size a server reported is ingested alone (<see cref="IngestAsync(Channel, Func{CancellationToken, Task{Stream}}, string, long?, CancellationToken)"/>) rather than in a batch.</summary>
    public bool IsLarge(long? size) => size is not { } known || known > MaxBatchedBytes;

    /// <param name="rawMime">The server's stream; read once, into a <see cref="MailSpool"/>, and disposed.</param>
    /// <param name="providerId">The server's id of the message (IMAP UID, POP3 UIDL, Graph id), for quarantine listings and logs.</param>
    /// <param name="size">The size the server reported, when known: oversized mail is quarantined without being parsed.</param>
    public Task<IngestOutcome> IngestAsync(Channel channel, Stream rawMime, string providerId, long? size = null, CancellationToken cancellationToken = default) =>
        IngestAsync(channel, _ => Task.FromResult(rawMime), providerId, size, cancellationToken);

    /// <summary>
    /// Ingests the mail <paramref name="fetch"/> opens. Its size (when the server reported it, else once it is spooled)
    /// is held in the process's <see cref="IngestBudget"/> until the outcome is durable, and a known size is held
    /// before the fetch: a client may read the whole mail into memory (MailKit's POP3 does).
    /// </summary>
    public async Task<IngestOutcome> IngestAsync(Channel channel, Func<CancellationToken, Task<Stream>> fetch, string providerId, long? size = null, CancellationToken cancellationToken = default)
    {
        var lease = size is { } known ? await budget.ReserveAsync(known, cancellationToken) : null;
        try
        {
            await using var rawMime = await fetch(cancellationToken);
            var max = options.Value.MaxMessageBytes;
            if (size > max)
            {
                await QuarantineAsync(channel, rawMime, "size:" + size.Value, "oversized", size.Value, providerId, null, null, cancellationToken);
                return IngestOutcome.Quarantined;
            }

            await using var spool = await MailSpool.ReadAsync(rawMime, max + 1, cancellationToken);
            lease ??= await budget.ReserveAsync(spool.Length, cancellationToken);
            if (spool.Length > max)
            {
                var length = size ?? spool.Length;
                await QuarantineAsync(channel, new ConcatenatedStream(spool.Content, rawMime), "size:" + length, "oversized", length, providerId, null, null, cancellationToken);
                return IngestOutcome.Quarantined;
            }

            var prepared = await PrepareAsync(channel, spool, providerId, cancellationToken);
            return prepared.Outcome ?? await AppendAsync(channel, prepared, cancellationToken);
        }
        finally
        {
            lease?.Dispose();
        }
    }

    /// <summary>A mail parsed and its blobs stored, ready to append (or its outcome already, when it was quarantined).</summary>
    private sealed record Prepared(IngestOutcome? Outcome, InboundMessage? Inbound = null, string ProviderId = "", long Length = 0, string RawBlob = "", string Content = "", string? From = null, string? Subject = null);

    /// <summary>Parses the spooled mail and stores its raw MIME and attachments; everything but the append.</summary>
    private async Task<Prepared> PrepareAsync(Channel channel, MailSpool spool, string providerId, CancellationToken cancellationToken)
    {
        var raw = spool.Content;
        var content = spool.Sha256[..32];
        MimeMessage message;
        try
        {
            // Persistent: the parts point into the spool instead of holding copies of their content.
            message = await MimeMessage.LoadAsync(raw, persistent: true, cancellationToken);
        }
        catch (FormatException)
        {
            raw.Position = 0;
            await QuarantineAsync(channel, raw, content, "unparseable", spool.Length, providerId, null, null, cancellationToken);
            return new Prepared(IngestOutcome.Quarantined);
        }

        using var parsed = message;
        var sender = message.From.Mailboxes.FirstOrDefault(m => m.Address.Contains('@', StringComparison.Ordinal)) ?? message.Sender;
        if (sender is null || message.Headers.Count == 0)
        {
            raw.Position = 0;
            await QuarantineAsync(channel, raw, content, "no-sender", spool.Length, providerId, message.From.ToString(), message.Subject, cancellationToken);
            return new Prepared(IngestOutcome.Quarantined);
        }

        var externalId = ExternalIdOf(message, spool.Sha256);
        var key = KeyOf(externalId);
        raw.Position = 0;
        var rawBlob = await archive.PutAsync(MailArchive.RawName(channel, key, content), raw, "message/rfc822", cancellationToken);
        var attachments = new List<AttachmentRef>();
        // Each decodes the whole part when read: read once.
        var (text, html) = (message.TextBody, message.HtmlBody);
        // What makes two copies of one mail the same message whatever their transport headers (Received, delivery ids).
        using var fingerprint = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var part in new[] { sender.Address, message.Subject, text, html })
        {
            fingerprint.AppendData(Encoding.UTF8.GetBytes((part ?? "") + "\0"));
        }

        var index = 0;
        // The refs live in the message's row (64 KiB a property); the raw MIME in blobs keeps every attachment anyway.
        foreach (var part in message.Attachments.OfType<MimePart>().Take(MaxAttachmentRefs))
        {
            var fileName = SafeFileName(part.FileName) ?? $"attachment-{index + 1}";
            // Decoded straight out of the raw spool into its own (memory when small, else a file), hashed on the way.
            await using (var source = part.Content?.Open() ?? Stream.Null)
            await using (var decoded = await MailSpool.ReadAsync(source, long.MaxValue, cancellationToken))
            {
                fingerprint.AppendData(Convert.FromHexString(decoded.Sha256));
                var blob = await archive.PutAsync(MailArchive.AttachmentName(channel, key, content, index, fileName), decoded.Content, part.ContentType.MimeType, cancellationToken);
                attachments.Add(new AttachmentRef(fileName, part.ContentType.MimeType, decoded.Length, blob));
            }

            index++;
        }

        var references = message.References.Select(Normalize).Where(r => r.Length > 0).ToList();
        var inReplyTo = message.InReplyTo is { } irt ? Normalize(irt) : null;
        // The nearest ancestor first: the message answered, then References from the newest back.
        var keys = new List<string>();
        if (inReplyTo is { Length: > 0 })
        {
            keys.Add(inReplyTo);
        }

        keys.AddRange(Enumerable.Reverse(references).Where(r => !keys.Contains(r)));
        var address = sender.Address.Trim().ToLowerInvariant();
        var inbound = new InboundMessage(
            channel.CompanyId,
            channel.Id,
            externalId,
            new ContactInfo(address, string.IsNullOrWhiteSpace(sender.Name) ? null : sender.Name, address),
            text ?? (html is not null ? MailText.FromHtml(html) : ""),
            // Served to agents' browsers: only what cannot run. The raw MIME in Blob keeps the original.
            html is not null ? InboundHtml.Sanitize(html) : null,
            Cap(message.Subject, MaxSubjectLength),
            attachments,
            Metadata: null,
            Mail: new MailHeaders(message.MessageId is { Length: > 0 } ? Normalize(message.MessageId) : null, inReplyTo, references, Cap(sender.ToString(), MaxSubjectLength),
                message.To.Mailboxes.Select(m => Cap(m.Address, 254)!).Take(MaxRecipients).ToList(), rawBlob),
            ConversationKeys: keys,
            BodyHash: Convert.ToHexStringLower(fingerprint.GetHashAndReset())[..32]);

        return new Prepared(null, inbound, providerId, spool.Length, rawBlob, content, message.From.ToString(), message.Subject);
    }

    /// <summary>Appends one prepared mail on its own, and quarantines what Table Storage refuses or a reused Message-ID.</summary>
    private async Task<IngestOutcome> AppendAsync(Channel channel, Prepared prepared, CancellationToken cancellationToken)
    {
        AppendResult result;
        try
        {
            result = await conversations.AppendInboundAsync(prepared.Inbound!, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 400)
        {
            // Table Storage refuses the row (a property over 64 KiB, an entity over 1 MiB) whatever the caps missed:
            // retrying cannot help, and a poll that fails on it would never get past it. The raw MIME is stored.
            await quarantine.RecordAsync(channel, MailQuarantine.IdOf(channel, prepared.ProviderId), Unstorable, prepared.Length, prepared.RawBlob, prepared.ProviderId, prepared.From, prepared.Subject, cancellationToken);
            LogQuarantined(channel.Id, prepared.ProviderId, Unstorable, prepared.Length);
            return IngestOutcome.Quarantined;
        }

        // Another mail under a Message-ID already stored (a sender reusing ids, a forged copy): never dropped, never
        // mixed into the first one's history. Messages stored before bodies were fingerprinted have no fingerprint to
        // compare with (their raw name says so): a second copy of one of them stays a duplicate.
        if (result.Outcome == AppendOutcome.Mismatch && result.Message.Mail?.RawMimeBlob is { } first && !MailArchive.IsLegacyRawName(first))
        {
            await quarantine.RecordAsync(channel, MailQuarantine.IdOf(channel, prepared.ProviderId + "/" + prepared.Content), DuplicateMessageId, prepared.Length, prepared.RawBlob, prepared.ProviderId, prepared.From, prepared.Subject, cancellationToken);
            LogQuarantined(channel.Id, prepared.ProviderId, DuplicateMessageId, prepared.Length);
            return IngestOutcome.Quarantined;
        }

        return result.Outcome == AppendOutcome.Created ? IngestOutcome.Ingested : IngestOutcome.Duplicate;
    }

    /// <summary>
    /// Ingests several messages already read from the server: parsed and their blobs stored side by side, then appended
    /// in the order given through <see cref="IConversationStore.AppendInboundBatchAsync"/> (a message answering an earlier
    /// one of the batch finds its conversation), and one by one, in order, from the first one a transaction could not
    /// take. <paramref name="routes"/> is the poll's routing cache. Returns the outcomes in the order given; every
    /// outcome is durable when this returns. A message that fails on its own (<see cref="MailFaults.IsMessageFault"/>) is
    /// returned with its fault; anything else throws.
    /// </summary>
    public async Task<IReadOnlyList<IngestAttempt>> IngestManyAsync(Channel channel, IReadOnlyList<(string ProviderId, Stream Raw)> messages, InboundRouteCache? routes = null,
        int parallelism = 4, CancellationToken cancellationToken = default)
    {
        routes ??= new InboundRouteCache();
        var outcomes = new IngestAttempt?[messages.Count];
        var prepared = new Prepared?[messages.Count];
        var max = options.Value.MaxMessageBytes;
        using (var gate = new SemaphoreSlim(parallelism))
        {
            await Task.WhenAll(Enumerable.Range(0, messages.Count).Select(async i =>
            {
                await gate.WaitAsync(cancellationToken);
                try
                {
                    var (providerId, raw) = messages[i];
                    using var lease = await budget.ReserveAsync(raw.Length, cancellationToken);
                    if (raw.Length > max)
                    {
                        await QuarantineAsync(channel, raw, "size:" + raw.Length, "oversized", raw.Length, providerId, null, null, cancellationToken);
                        outcomes[i] = new IngestAttempt(IngestOutcome.Quarantined, null);
                        return;
                    }

                    // Parsed and uploaded now; only the row waits for the batch, so the spool is released here.
                    await using var spool = await MailSpool.ReadAsync(raw, long.MaxValue, cancellationToken);
                    var ready = await PrepareAsync(channel, spool, providerId, cancellationToken);
                    if (ready.Outcome is { } outcome)
                    {
                        outcomes[i] = new IngestAttempt(outcome, null);
                    }
                    else
                    {
                        prepared[i] = ready;
                    }
                }
                catch (Exception ex) when (MailFaults.IsMessageFault(ex))
                {
                    // This message's own failure: the rest of the batch goes on, and the poller counts it.
                    outcomes[i] = new IngestAttempt(null, ex);
                }
                finally
                {
                    gate.Release();
                }
            }));
        }

        var order = Enumerable.Range(0, messages.Count).Where(i => prepared[i] is not null).ToList();
        var stored = await conversations.AppendInboundBatchAsync(order.Select(i => prepared[i]!.Inbound!).ToList(), routes, cancellationToken);
        for (var n = 0; n < order.Count; n++)
        {
            var i = order[n];
            if (n < stored.Count)
            {
                outcomes[i] = new IngestAttempt(IngestOutcome.Ingested, null);
                continue;
            }

            try
            {
                outcomes[i] = new IngestAttempt(await AppendAsync(channel, prepared[i]!, cancellationToken), null);
            }
            catch (Exception ex) when (MailFaults.IsMessageFault(ex))
            {
                outcomes[i] = new IngestAttempt(null, ex);
            }
        }

        if (stored.Count < order.Count)
        {
            // Appended one by one: the versions the cache holds may be stale now.
            routes.Clear();
        }

        return outcomes.Select(o => o!).ToList();
    }

    /// <summary>
    /// Ingests a batch a poller read ahead (<see cref="IngestManyAsync"/>) and disposes its bodies. Returns every message
    /// of it in the order added, with its outcome or the fault that kept it from being read or stored; every outcome is
    /// durable when this returns, so the poller may then acknowledge those on the server.
    /// </summary>
    internal async Task<IReadOnlyList<(TKey Key, string ProviderId, IngestAttempt Attempt)>> IngestBatchAsync<TKey>(Channel channel, MailBatch<TKey> batch, InboundRouteCache routes,
        CancellationToken cancellationToken = default)
    {
        await using (batch)
        {
            var read = batch.Items.Where(i => i.Body is not null).ToList();
            var stored = read.Count > 0 ? await IngestManyAsync(channel, read.Select(i => (i.ProviderId, i.Body!)).ToList(), routes, cancellationToken: cancellationToken) : [];
            var next = 0;
            return batch.Items.Select(i => (i.Key, i.ProviderId, i.Body is null ? new IngestAttempt(null, i.Fault) : stored[next++])).ToList();
        }
    }

    /// <summary>Message-ID without its angle brackets; the SHA-256 of the raw bytes for mail that has none, so a re-read copy still matches.</summary>
    public static string ExternalIdOf(MimeMessage message, string rawSha256) =>
        message.MessageId is { Length: > 0 } id ? Normalize(id) : "sha256:" + rawSha256;

    /// <summary>Quarantine reason of mail whose row Table Storage refused: it could not be stored as a message.</summary>
    public const string Unstorable = "unstorable";

    /// <summary>Quarantine reason of mail whose Message-ID names a stored message with another body.</summary>
    public const string DuplicateMessageId = "duplicate-message-id";

    // What one message puts in its row stays well inside Table Storage's 64 KiB a property and 1 MiB an entity.
    private const int MaxRecipients = 100;
    private const int MaxSubjectLength = 1000;
    private const int MaxAttachmentRefs = 100;

    private static string? Cap(string? value, int max) =>
        value is not { Length: var n } || n <= max ? value : value[..(char.IsHighSurrogate(value[max - 1]) ? max - 1 : max)];

    private static string Normalize(string id) => id.Trim().Trim('<', '>').Trim();

    private static string KeyOf(string externalId) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(externalId)))[..32];

    /// <param name="variant">Tells apart two mails that share a provider id (another mailbox behind the same channel): a content hash, or the size of mail too large to hash first.</param>
    private async Task QuarantineAsync(Channel channel, Stream content, string variant, string reason, long size, string providerId, string? from, string? subject, CancellationToken cancellationToken)
    {
        var id = MailQuarantine.IdOf(channel, providerId + "/" + variant);
        var blob = await archive.PutAsync(MailArchive.QuarantineName(channel, id), content, "message/rfc822", cancellationToken);
        await quarantine.RecordAsync(channel, id, reason, size, blob, providerId, from, subject, cancellationToken);
        LogQuarantined(channel.Id, providerId, reason, size);
    }

    private static string? SafeFileName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return null;
        }

        var safe = new string(Path.GetFileName(name.Replace('\\', '/')).Select(c => char.IsControl(c) || c is '/' or '?' or '#' or '%' ? '_' : c).ToArray()).Trim();
        return safe.Length == 0 ? null : safe.Length > 120 ? safe[^120..] : safe;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mail {ProviderId} on channel {ChannelId} was quarantined ({Reason}, {Size} bytes)")]
    private partial void LogQuarantined(string channelId, string providerId, string reason, long size);
}
