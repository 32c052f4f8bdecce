using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;
using Omni.Credentials;
using Omni.Functions.Hosting;
using Omni.Voice;

namespace Omni.Functions.Http;

public sealed record AudioResponse(string AudioId, string Format, long DurationMs, DateTimeOffset CreatedAt);

public sealed record CallResponse(
    string Id, string From, string To, string? IvrId, DateTimeOffset StartedAt, DateTimeOffset? EndedAt, string? Outcome, string Digits, string? ServiceId);

/// <summary>Voice audio for IVR messages and the company's call records (§8).</summary>
internal static class VoiceEndpoints
{
    /// <summary>Room for the multipart boundaries and headers around the file itself.</summary>
    private const long MultipartOverhead = 64 * 1024;

    public static IEndpointRouteBuilder MapVoiceEndpoints(this IEndpointRouteBuilder routes)
    {
        var maxAudio = routes.ServiceProvider.GetRequiredService<IOptions<VoiceOptions>>().Value.MaxAudioBytes;
        var company = routes.MapGroup("/api/companies/{companyId}").WithTags("Voice").RequireCompany().RequireScope(Scopes.VoiceWrite);
        company.MapPost("/audio", UploadAsync).WithName("uploadAudio").WithMetadata(new BodyLimit(maxAudio + MultipartOverhead))
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .WithSummary("Upload an mp3 or wav (multipart field 'file'); stored as 16 kHz mono 16-bit PCM WAV");
        company.MapGet("/audio/{audioId}", DownloadAsync).WithName("downloadAudio").Produces(StatusCodes.Status200OK, contentType: "audio/wav").WithSummary("The telephony-ready audio (audio/wav)");
        company.MapDelete("/audio/{audioId}", DeleteAsync).WithName("deleteAudio").ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Delete an audio no IVR uses");
        company.MapGet("/calls", ListCallsAsync).WithName("listCalls").WithSummary("The company's calls, newest first");
        return routes;
    }

    private static async Task<Results<Created<AudioResponse>, ValidationProblem, ProblemHttpResult>> UploadAsync(
        HttpRequest request, AudioClips audio, TenantContext tenant, CancellationToken cancellationToken)
    {
        if (!request.HasFormContentType)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported Media Type",
                detail: "Send multipart/form-data with the audio in the field 'file'.");
        }

        IFormFile? file;
        byte[] bytes;
        try
        {
            file = (await request.ReadFormAsync(cancellationToken)).Files.GetFile("file");
            if (file is null || file.Length > audio.MaxBytes)
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]>
                {
                    ["file"] = [file is null ? "Required: the mp3 or wav file, in the multipart field 'file'." : $"At most {audio.MaxBytes} bytes."],
                });
            }

            bytes = new byte[file.Length];
            await using var stream = file.OpenReadStream();
            await stream.ReadExactlyAsync(bytes, cancellationToken);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or BadHttpRequestException)
        {
            // A broken multipart body (bad boundary, truncated part) or one over the route's limit.
            var status = e is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest;
            return TypedResults.Problem(statusCode: status, detail: "The multipart body cannot be read: " + e.Message);
        }

        var upload = await audio.UploadAsync(tenant.CompanyId, bytes, cancellationToken);
        return upload.Clip is { } clip
            ? TypedResults.Created($"/api/companies/{tenant.CompanyId}/audio/{clip.Id}", new AudioResponse(clip.Id, clip.Format, clip.DurationMs, clip.CreatedAt))
            : TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["file"] = [upload.Error!] });
    }

    private static async Task<Results<FileStreamHttpResult, NotFound>> DownloadAsync(
        string audioId, AudioClips audio, TenantContext tenant, CancellationToken cancellationToken) =>
        await audio.OpenAsync(tenant.CompanyId, audioId, cancellationToken) is { } wav ? TypedResults.Stream(wav, "audio/wav") : TypedResults.NotFound();

    private static async Task<Results<NoContent, NotFound, ProblemHttpResult>> DeleteAsync(
        string audioId, AudioClips audio, IvrStore ivrs, TenantContext tenant, CancellationToken cancellationToken) =>
        await audio.DeleteAsync(tenant.CompanyId, audioId, ivrs, cancellationToken) switch
        {
            AudioDeleteStatus.Deleted => TypedResults.NoContent(),
            AudioDeleteStatus.InUse => NumberEndpoints.Conflict("An IVR plays this audio: change its messages or delete it first."),
            _ => TypedResults.NotFound(),
        };

    private static async Task<Results<Ok<ListResponse<CallResponse>>, ValidationProblem>> ListCallsAsync(
        string? since, CallRecords calls, TenantContext tenant, CancellationToken cancellationToken)
    {
        if (ParseInstant("since", since, out var from) is { } problem)
        {
            return problem;
        }

        var items = await calls.ListAsync(tenant.CompanyId, from, cancellationToken);
        return TypedResults.Ok(new ListResponse<CallResponse>(items.Select(c =>
            new CallResponse(c.Id, c.From, c.To, c.IvrId, c.StartedAt, c.EndedAt, c.Outcome, c.Digits, c.ServiceId)).ToList()));
    }

    /// <summary>An optional ISO-8601 instant from the query; a problem naming <paramref name="field"/> when it is not one.</summary>
    internal static ValidationProblem? ParseInstant(string field, string? text, out DateTimeOffset? instant)
    {
        instant = null;
        if (text is null)
        {
            return null;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
        {
            instant = parsed;
            return null;
        }

        return TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = ["Must be an ISO-8601 instant such as 2026-03-08T12:00:00Z."] });
    }

    /// <summary>The route's own body limit, read by <see cref="OversizeBodyMiddleware"/> and Kestrel.</summary>
    private sealed class BodyLimit(long bytes) : IRequestSizeLimitMetadata
    {
        public long? MaxRequestBodySize => bytes;
    }
}
