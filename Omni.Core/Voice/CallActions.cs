using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Omni.Tenancy;

namespace Omni.Voice;

/// <summary>
/// Makes the one ACS operation a step of the flow asks for, after the step is stored (so a repeated event never
/// makes it twice): the menu (the welcome inside a one-digit recognize), the closed or unanswered message, the
/// transfer to the chosen service's <c>voiceTarget</c>, or the hang-up. Each operation carries the operation context
/// the call now waits for, so its event finds the step it belongs to.
/// </summary>
internal sealed partial class CallActions(AcsCallAutomation acs, CallPrompts prompts, IvrStore ivrs, ICompanyStore companies, ILogger<CallActions> logger)
{
    /// <summary>True when ACS took the operation (or there was none to make).</summary>
    public async Task<bool> RunAsync(CallState call, CallActionKind action, CancellationToken cancellationToken = default)
    {
        if (action == CallActionKind.None)
        {
            return true;
        }

        if (call.CallConnectionId is not { } connection)
        {
            LogFailed(call.Id, action, "no call connection id is known");
            return false;
        }

        AcsResult result;
        if (action == CallActionKind.HangUp)
        {
            result = await acs.TerminateAsync(connection, cancellationToken);
        }
        else if (action == CallActionKind.Transfer)
        {
            if ((call.ServiceId is { } serviceId ? await companies.GetServiceAsync(call.CompanyId, serviceId, cancellationToken) : null)?.VoiceTarget is not { } target)
            {
                LogFailed(call.Id, action, "the service has no voiceTarget (any more)");
                return false;
            }

            result = await acs.TransferAsync(connection, target, call.Operation!, cancellationToken);
        }
        else
        {
            if (await ivrs.GetAsync(call.CompanyId, call.IvrId, cancellationToken) is not { } ivr)
            {
                LogFailed(call.Id, action, "the IVR was deleted during the call");
                return false;
            }

            var message = action switch
            {
                CallActionKind.Menu => ivr.Welcome,
                CallActionKind.PlayClosed => ivr.Closed,
                _ => ivr.Unanswered,
            };
            var source = await prompts.SourceAsync(call.CompanyId, message, cancellationToken);
            result = action == CallActionKind.Menu
                ? await acs.RecognizeDigitAsync(connection, source, JsonNode.Parse(call.Caller)!, call.Operation!, cancellationToken)
                : await acs.PlayAsync(connection, source, call.Operation!, cancellationToken);
        }

        if (!result.Ok)
        {
            LogFailed(call.Id, action, $"ACS answered {result.Status}");
        }

        return result.Ok;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Call {CallId}: {Action} could not be made: {Reason}")]
    private partial void LogFailed(string callId, CallActionKind action, string reason);
}
