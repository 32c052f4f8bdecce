using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Credentials;
using Omni.Functions.Hosting;
using Omni.Voice;

namespace Omni.Functions.Http;

/// <summary>What callers hear for an IVR's messages (§8): the uploaded audio, or its text spoken by text-to-speech.</summary>
internal static class IvrPromptEndpoints
{
    public static IEndpointRouteBuilder MapIvrPromptEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/api/companies/{companyId}/ivrs/{ivrId}/prompts/{prompt}/audio", GetAudioAsync)
            .WithTags("Voice").RequireCompany().RequireScope(Scopes.VoiceWrite)
            .Produces(StatusCodes.Status200OK, contentType: "audio/wav")
            .ProducesProblem(StatusCodes.Status502BadGateway).ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .WithSummary("Preview an IVR message (welcome, closed or unanswered) as callers hear it: 16 kHz mono 16-bit PCM WAV");
        return routes;
    }

    private static async Task<Results<FileStreamHttpResult, NotFound, ProblemHttpResult>> GetAudioAsync(
        string ivrId, string prompt, PromptPreviews previews, TenantContext tenant, CancellationToken cancellationToken)
    {
        var audio = await previews.OpenAsync(tenant.CompanyId, ivrId, prompt, cancellationToken);
        return audio.Status switch
        {
            PromptAudioStatus.Found => TypedResults.Stream(audio.Wav!, "audio/wav"),
            PromptAudioStatus.Unavailable => TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Text-to-speech is unavailable", detail: audio.Error),
            PromptAudioStatus.Failed => TypedResults.Problem(statusCode: StatusCodes.Status502BadGateway, title: "Text-to-speech failed", detail: audio.Error),
            _ => TypedResults.NotFound(),
        };
    }
}
