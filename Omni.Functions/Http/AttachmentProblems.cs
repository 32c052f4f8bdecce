using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Conversations;

namespace Omni.Functions.Http;

/// <summary>Attachments between their JSON shape and Core's rules, for receive_hook and sending alike.</summary>
internal static class AttachmentProblems
{
    public static List<AttachmentUpload?>? Uploads(IReadOnlyList<AttachmentRequest?>? attachments) =>
        attachments?.Select(a => a is null ? null : new AttachmentUpload(a.FileName, a.ContentType, a.ContentBase64)).ToList();

    /// <summary>A size rule failed: 413, with the same errors a validation problem would list.</summary>
    public static ProblemHttpResult TooLarge(Dictionary<string, string[]> errors) =>
        TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Attachment too large",
            detail: $"Each attachment may be at most {AttachmentRules.MaxBytes / 1024} KiB once decoded.",
            extensions: new Dictionary<string, object?> { ["errors"] = errors });
}
