using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using Omni.Channels;
using Omni.Conversations;
using Omni.Storage;

namespace Omni.MercadoLivre;

/// <summary>What became of a buyer message's files: those stored, why others were not, or that it is worth trying later.</summary>
internal sealed record FetchedAttachments(IReadOnlyList<AttachmentRef> Stored, IReadOnlyList<string> Problems, bool TryLater);

/// <summary>
/// Post-sale files both ways, kept in the attachment store every channel uses. A buyer's file is read with the seller's
/// token (<c>GET {api}/messages/attachments/{id}?tag=post_sale&amp;site_id=</c>); an agent's is uploaded
/// (<c>POST {api}/messages/attachments?tag=post_sale&amp;site_id=</c>, multipart) and the message names the id it got.
/// Each upload's id is kept in <c>MercadoLivreAttachments</c> under the message and the file's position, so a send tried
/// again after a failure or a queue redelivery never uploads a file twice.
/// </summary>
internal sealed class MercadoLivreAttachments(MercadoLivreApi api, AttachmentStore blobs, TableServiceClient tables, IOptionsMonitor<MercadoLivreOptions> options)
{
    public const string TableName = "MercadoLivreAttachments";

    private readonly TableClient _uploads = tables.GetTableClient(TableName);

    public async Task<FetchedAttachments> DownloadAsync(Channel channel, string token, JsonArray files, string? siteId, bool lastAttempt, CancellationToken cancellationToken = default)
    {
        var stored = new List<AttachmentRef>();
        var problems = new List<string>();
        var max = options.CurrentValue.MaxAttachmentBytes;
        foreach (var file in files)
        {
            if (MercadoLivreApi.Text(file?["filename"]) is not { Length: > 0 } id)
            {
                continue;
            }

            var name = Path.GetFileName(MercadoLivreApi.Text(file!["original_filename"]) is { Length: > 0 } original ? original : id);
            try
            {
                if (await api.DownloadAsync($"messages/attachments/{Uri.EscapeDataString(id)}?tag=post_sale&site_id={Uri.EscapeDataString(siteId ?? options.CurrentValue.SiteId)}", token, max, cancellationToken) is not { } content)
                {
                    problems.Add($"{name}: over the limit of {max} bytes, not stored.");
                    continue;
                }

                var type = MercadoLivreApi.Text(file["type"]) ?? content.ContentType;
                var contentType = type is { Length: <= ConversationLimits.ContentTypeCharacters } && AttachmentRules.IsAllowedType(type) ? type : "application/octet-stream";
                stored.Add(await blobs.UploadAsync(channel.CompanyId, channel.Id, name, contentType, content.Content, cancellationToken));
            }
            catch (Exception e) when (IsTransient(e, cancellationToken) && !lastAttempt)
            {
                return new FetchedAttachments(stored, problems, TryLater: true);
            }
            catch (Exception e) when (e is MercadoLivreApiException || IsTransient(e, cancellationToken))
            {
                problems.Add($"{name}: Mercado Livre did not hand it over ({(e as MercadoLivreApiException)?.Detail ?? e.GetType().Name}).");
            }
        }

        return new FetchedAttachments(stored, problems, TryLater: false);
    }

    /// <summary>Mercado Livre's ids for the message's files, uploading those not uploaded before; null when a file is no longer stored here.</summary>
    public async Task<IReadOnlyList<string>?> UploadAsync(Channel channel, Message message, string token, CancellationToken cancellationToken = default)
    {
        var ids = new List<string>();
        for (var i = 0; i < message.Attachments.Count; i++)
        {
            var key = $"{message.Id}|{i}";
            if (await _uploads.FindAsync(channel.CompanyId, key, cancellationToken) is { } uploaded && uploaded.GetString("AttachmentId") is { } known)
            {
                ids.Add(known);
                continue;
            }

            var attachment = message.Attachments[i];
            if (await blobs.DownloadAsync(attachment, cancellationToken) is not { } content)
            {
                return null;
            }

            var answer = await api.PostFileAsync($"messages/attachments?tag=post_sale&site_id={Uri.EscapeDataString(options.CurrentValue.SiteId)}",
                attachment.FileName, attachment.ContentType, content, token, cancellationToken);
            var id = MercadoLivreApi.Text(answer["id"]) ?? throw new MercadoLivreApiException(System.Net.HttpStatusCode.BadGateway, null, "an attachment upload answered without an id");
            await _uploads.UpsertEntityAsync(new TableEntity(channel.CompanyId, key) { ["AttachmentId"] = id }, TableUpdateMode.Replace, cancellationToken);
            ids.Add(id);
        }

        return ids;
    }

    private static bool IsTransient(Exception e, CancellationToken cancellationToken) =>
        e is MercadoLivreApiException { IsTransient: true } or HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested);
}
