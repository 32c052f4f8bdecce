using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Security;

namespace Omni.Voice;

internal enum EventsStatus
{
    Validated,
    Taken,
    Unreadable,
    NotConfigured,
    TryAgain,
}

internal sealed record EventsOutcome(EventsStatus Status, string? ValidationCode = null);

internal enum CallbackStatus
{
    Taken,
    Unauthorized,
    Unreadable,
}

/// <summary>
/// Calls to the companies' numbers over ACS Call Automation (docs/voice.md): an IncomingCall is routed by the called
/// number to the company and the IVR that answers it, decided with <see cref="IvrRoute.Decide"/> at the instant it
/// arrived, stored, and answered with a callback URL that carries a secret of this call alone (only its hash is kept);
/// then each callback event moves the call's state machine (<see cref="CallFlow"/>) one step and makes the ACS
/// operation that step asks for.
/// </summary>
internal sealed partial class VoiceCalls(
    AcsCallAutomation acs, CallStateStore calls, CallActions actions, NumberInventory inventory, CompanyNumbers numbers, IvrStore ivrs,
    IOptions<AcsOptions> options, TimeProvider clock, ILogger<VoiceCalls> logger)
{
    public const string CallbacksPath = "/api/providers/acs/callbacks";

    /// <summary>Event Grid's largest delivery; ACS's callback batches are far smaller.</summary>
    public const int MaxEventBytes = 1024 * 1024;

    /// <summary>An answer whose outcome is unknown for this long died with its instance: a repeated IncomingCall answers again.</summary>
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(30);

    public async Task<EventsOutcome> ReceiveEventsAsync(byte[] body, CancellationToken cancellationToken = default)
    {
        var delivery = AcsEvents.ReadDelivery(body);
        if (!delivery.Readable)
        {
            return new(EventsStatus.Unreadable);
        }

        if (delivery.ValidationCode is { } code)
        {
            return new(EventsStatus.Validated, code);
        }

        if (delivery.Calls.Count > 0 && !acs.Enabled)
        {
            LogNotConfigured();
            return new(EventsStatus.NotConfigured);
        }

        var again = false;
        foreach (var call in delivery.Calls)
        {
            again |= !await AnswerAsync(call, cancellationToken);
        }

        return new(again ? EventsStatus.TryAgain : EventsStatus.Taken);
    }

    public async Task<CallbackStatus> ReceiveCallbackAsync(string callId, string? secret, byte[] body, CancellationToken cancellationToken = default)
    {
        if (secret is not { Length: > 0 } || await calls.GetAsync(callId, cancellationToken) is not { } call
            || !call.SecretHashes.Any(h => TokenHash.FixedTimeEquals(h, TokenHash.Of(secret))))
        {
            return CallbackStatus.Unauthorized;
        }

        if (AcsEvents.ReadCallbacks(body) is not { } events)
        {
            return CallbackStatus.Unreadable;
        }

        // An event of another call connection was not sent for this call, whatever URL it came to.
        if (events.Any(e => !SameConnection(call, e)))
        {
            return CallbackStatus.Unauthorized;
        }

        foreach (var e in events)
        {
            await AdvanceAsync(callId, s => SameConnection(s, e) ? CallFlow.Apply(s, e, clock.GetUtcNow()) : null, cancellationToken);
        }

        return CallbackStatus.Taken;
    }

    /// <summary>False when the call should be offered again later (ACS could not be reached).</summary>
    private async Task<bool> AnswerAsync(IncomingCall incoming, CancellationToken cancellationToken)
    {
        if (await IvrForAsync(incoming.To, cancellationToken) is not { } ivr)
        {
            LogNotOurs();
            return true;
        }

        var now = clock.GetUtcNow();
        var at = incoming.At ?? now;
        var callId = "call_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(incoming.CorrelationId ?? incoming.EventId + incoming.IncomingCallContext)))[..32];
        var secret = TokenHash.NewToken("");
        var decision = IvrRoute.Decide(ivr, at);
        var caller = incoming.Caller?.ToJsonString()
            ?? new JsonObject { ["kind"] = "phoneNumber", ["phoneNumber"] = new JsonObject { ["value"] = incoming.From } }.ToJsonString();
        var call = new CallState(callId, ivr.CompanyId, ivr.Id, incoming.From ?? "", incoming.To!, caller, at, decision.Open,
            decision.Menu.ToDictionary(m => m.Digit, m => m.ServiceId, StringComparer.Ordinal), CallStep.Answering, null, 0, "", null, null, null, null,
            [TokenHash.Of(secret)], now);
        if (!await calls.TryAddAsync(call, cancellationToken))
        {
            // A repeated IncomingCall: answered, or being answered, already; only an answer that died is made again.
            var claim = await calls.UpdateAsync(callId, s => s.Step == CallStep.Answering && (s.AnsweringSince is null || s.AnsweringSince < now - AnswerTimeout)
                ? s with { SecretHashes = [.. s.SecretHashes, TokenHash.Of(secret)], AnsweringSince = now }
                : null, cancellationToken);
            if (claim is not { } claimed || claimed.After == claimed.Before)
            {
                return true;
            }
        }

        var callback = new Uri($"{options.Value.PublicBaseUrl!.ToString().TrimEnd('/')}{CallbacksPath}/{callId}?secret={secret}");
        var answer = await acs.AnswerAsync(incoming.IncomingCallContext, callback, callId, cancellationToken);
        if (answer.Ok)
        {
            var connection = answer.Body?["callConnectionId"] is JsonValue v && v.TryGetValue<string>(out var id) ? id : null;
            await calls.UpdateAsync(callId, s => CallFlow.Answered(s, connection), cancellationToken);
            LogAnswered(callId, ivr.CompanyId, ivr.Id, decision.Open);
            return true;
        }

        LogAnswerRefused(callId, answer.Status);
        await calls.UpdateAsync(callId, s => s.Step != CallStep.Answering ? null
            : answer.Transient ? s with { AnsweringSince = null }
            : s with { Step = CallStep.Done, Outcome = CallOutcomes.Failed, EndedAt = now, AnsweringSince = null }, cancellationToken);
        return !answer.Transient;
    }

    /// <summary>Stores one step, then makes the operation it asks for; an operation ACS refuses moves the call on as the flow says.</summary>
    private async Task AdvanceAsync(string callId, Func<CallState, (CallState State, CallActionKind Action)?> step, CancellationToken cancellationToken)
    {
        var action = CallActionKind.None;
        var moved = await calls.UpdateAsync(callId, s =>
        {
            action = CallActionKind.None;
            if (step(s) is not { } next)
            {
                return null;
            }

            action = next.Action;
            return next.State;
        }, cancellationToken);

        if (moved is not { } m || m.After == m.Before || await actions.RunAsync(m.After, action, cancellationToken))
        {
            return;
        }

        var failed = action;
        var asked = m.After;
        await AdvanceAsync(callId, s => s.Step == asked.Step && s.Operation == asked.Operation ? CallFlow.ActionFailed(s, failed, clock.GetUtcNow()) : null, cancellationToken);
    }

    private async Task<Ivr?> IvrForAsync(string? to, CancellationToken cancellationToken)
    {
        if (NumberPlan.Parse(to, out _) is not { } parsed
            || (await inventory.GetAsync(parsed.Number, parsed.Area, cancellationToken))?.CompanyId is not { } companyId
            || await numbers.GetAsync(companyId, parsed.Number, cancellationToken) is not { Inbound: true, IvrId: { } ivrId })
        {
            return null;
        }

        return await ivrs.GetAsync(companyId, ivrId, cancellationToken);
    }

    private static bool SameConnection(CallState call, CallEvent e) =>
        e.CallConnectionId is null || call.CallConnectionId is null || e.CallConnectionId == call.CallConnectionId;

    [LoggerMessage(Level = LogLevel.Information, Message = "Answered call {CallId} for company {CompanyId} with IVR {IvrId} (open: {Open})")]
    private partial void LogAnswered(string callId, string companyId, string ivrId, bool open);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ACS did not answer call {CallId}: status {Status}")]
    private partial void LogAnswerRefused(string callId, int status);

    [LoggerMessage(Level = LogLevel.Information, Message = "An incoming call to a number no IVR answers was left alone")]
    private partial void LogNotOurs();

    [LoggerMessage(Level = LogLevel.Warning, Message = "An incoming call arrived but Omni__Voice__AcsEndpoint is not set: it is not answered")]
    private partial void LogNotConfigured();
}
