using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Quotas;

namespace Omni.Functions.Http;

/// <summary>A create over a company's quota: 409 Conflict (deleting one resolves it), naming the quota and its limit.</summary>
internal static class QuotaProblems
{
    public static ProblemHttpResult Exceeded(QuotaDenial denial) =>
        TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Quota exceeded", detail: denial.Detail,
            extensions: new Dictionary<string, object?> { ["quota"] = denial.Name, ["limit"] = denial.Limit });
}
