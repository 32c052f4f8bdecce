using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Channels;
using Omni.Credentials;
using Omni.Email;
using Omni.Functions.Hosting;
using Omni.Functions.Triggers;
using Omni.Storage;

namespace Omni.Functions.Http;

public sealed record QuarantinedMailResponse(string Id, string ChannelId, string Reason, long Size, string ProviderId, string? From, string? Subject, DateTimeOffset At);

internal static class EmailEndpoints
{
    public const string PollTimerFunction = FunctionNames.MailboxPollTimer;
    public const string PollFunction = FunctionNames.MailboxPoll;

    public static IEndpointRouteBuilder MapEmailEndpoints(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/companies/{companyId}/channels/{channelId}").WithTags("E-mail").RequireCompany();
        group.MapGet("/quarantine", ListQuarantineAsync).WithName("listQuarantine").RequireScope(Scopes.AuditRead)
            .WithSummary("Mail that could not be ingested (too large, unparseable, no sender): kept raw, never retried");
        return routes;
    }

    /// <summary>The timer that queues due mailbox polls and the queue function that runs one.</summary>
    public static IServiceCollection AddEmailFunctions(this IServiceCollection services)
    {
        services.AddTimerFunction<MailboxPollScheduler>(PollTimerFunction, (scheduler, timer, cancellationToken) => scheduler.TickAsync(timer.Now, cancellationToken));
        services.AddQueueFunction<MailboxPollRunner>(PollFunction, (runner, message, cancellationToken) => runner.RunAsync(message.Body, cancellationToken));
        return services;
    }

    private static async Task<Results<Ok<ListResponse<QuarantinedMailResponse>>, NotFound>> ListQuarantineAsync(
        string channelId, int? limit, string? continuationToken, IChannelStore channels, MailQuarantine quarantine, TenantContext tenant, CancellationToken cancellationToken)
    {
        if (await channels.GetAsync(tenant.CompanyId, channelId, includeDeleted: true, cancellationToken) is null)
        {
            return TypedResults.NotFound();
        }

        var page = await quarantine.ListAsync(tenant.CompanyId, channelId, limit ?? TablePaging.DefaultLimit, continuationToken, cancellationToken);
        return TypedResults.Ok(new ListResponse<QuarantinedMailResponse>(
            page.Items.Select(q => new QuarantinedMailResponse(q.Id, q.ChannelId, q.Reason, q.Size, q.ProviderId, q.From, q.Subject, q.At)).ToList(), page.ContinuationToken));
    }
}
