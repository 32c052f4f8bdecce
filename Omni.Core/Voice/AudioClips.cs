using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Storage;

namespace Omni.Voice;

/// <summary>An uploaded audio: <see cref="Format"/> is what was uploaded (mp3 or wav); what is stored is always the telephony WAV.</summary>
internal sealed record AudioClip(string Id, string Format, long DurationMs, long Bytes, DateTimeOffset CreatedAt);

internal sealed record AudioUpload(AudioClip? Clip, string? Error);

internal enum AudioDeleteStatus
{
    Deleted,
    NotFound,
    InUse,
}

/// <summary>
/// Audio for IVR messages: checked and converted once (<see cref="AudioConverter"/>), the WAV in the
/// <c>voice-audio</c> container, its row in the company's setup partition. The blob is written before the row, so a
/// row always has its audio; an IVR that uses the audio changes the row in its own transaction, so a delete that read
/// the row before cannot remove it.
/// </summary>
internal sealed partial class AudioClips(TableServiceClient tables, BlobServiceClient blobs, IOptions<VoiceOptions> options, TimeProvider clock, ILogger<AudioClips> logger)
{
    private readonly TableClient _setup = tables.GetTableClient(VoiceStorage.SetupTable);
    private readonly BlobContainerClient _container = blobs.GetBlobContainerClient(VoiceStorage.AudioContainer);

    public long MaxBytes => options.Value.MaxAudioBytes;

    public async Task<AudioUpload> UploadAsync(string companyId, byte[] file, CancellationToken cancellationToken = default)
    {
        if (file.Length == 0)
        {
            return new(null, "The file is empty.");
        }

        if (file.Length > MaxBytes)
        {
            return new(null, $"The file has {file.Length} bytes; at most {MaxBytes} are taken.");
        }

        if (AudioConverter.Convert(file, options.Value.MaxAudioDuration, out var error) is not { } converted)
        {
            return new(null, error);
        }

        var clip = new AudioClip(Ids.New("aud"), converted.Format, (long)converted.Duration.TotalMilliseconds, converted.Wav.Length, clock.GetUtcNow());
        await _container.GetBlobClient(BlobName(companyId, clip.Id)).UploadAsync(BinaryData.FromBytes(converted.Wav),
            new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "audio/wav" } }, cancellationToken);
        await _setup.AddEntityAsync(new TableEntity(companyId, VoiceStorage.AudioRow + clip.Id)
        {
            ["Format"] = clip.Format,
            ["DurationMs"] = clip.DurationMs,
            ["Bytes"] = clip.Bytes,
            ["CreatedAt"] = clip.CreatedAt,
        }, cancellationToken);
        LogStored(companyId, clip.Id, clip.Format, clip.DurationMs);
        return new(clip, null);
    }

    public async Task<AudioClip?> GetAsync(string companyId, string audioId, CancellationToken cancellationToken = default) =>
        Ids.LooksValid(audioId) && await _setup.FindAsync(companyId, VoiceStorage.AudioRow + audioId, cancellationToken) is { } row ? ToClip(row) : null;

    /// <summary>The telephony WAV; null when the audio is not the company's.</summary>
    public async Task<Stream?> OpenAsync(string companyId, string audioId, CancellationToken cancellationToken = default) =>
        await GetAsync(companyId, audioId, cancellationToken) is null
            ? null
            : (await _container.GetBlobClient(BlobName(companyId, audioId)).DownloadStreamingAsync(cancellationToken: cancellationToken)).Value.Content;

    public async Task<AudioDeleteStatus> DeleteAsync(string companyId, string audioId, IvrStore ivrs, CancellationToken cancellationToken = default)
    {
        if (!Ids.LooksValid(audioId))
        {
            return AudioDeleteStatus.NotFound;
        }

        var status = await StorageRetry.OnConflictAsync(clock, "deleting an audio", async _ =>
        {
            if (await _setup.FindAsync(companyId, VoiceStorage.AudioRow + audioId, cancellationToken) is not { } row)
            {
                return AudioDeleteStatus.NotFound;
            }

            if ((await ivrs.ListAsync(companyId, cancellationToken)).Any(ivr => ivr.AudioIds.Contains(audioId)))
            {
                return AudioDeleteStatus.InUse;
            }

            await _setup.SubmitAsync([new TableTransactionAction(TableTransactionActionType.Delete, row, row.ETag)], cancellationToken);
            return AudioDeleteStatus.Deleted;
        }, cancellationToken);

        if (status == AudioDeleteStatus.Deleted)
        {
            await _container.GetBlobClient(BlobName(companyId, audioId)).DeleteIfExistsAsync(cancellationToken: cancellationToken);
        }

        return status;
    }

    internal static string BlobName(string companyId, string audioId) => $"{companyId}/{audioId}.wav";

    private static AudioClip ToClip(TableEntity e) => new(e.RowKey[VoiceStorage.AudioRow.Length..], e.GetString("Format"),
        e.GetInt64("DurationMs") ?? 0, e.GetInt64("Bytes") ?? 0, e.GetDateTimeOffset("CreatedAt") ?? default);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stored audio {AudioId} of company {CompanyId}: {Format}, {DurationMs} ms")]
    private partial void LogStored(string companyId, string audioId, string format, long durationMs);
}
