using System.Text.Json.Nodes;

namespace Omni.Tests.Webchat;

/// <summary>One server-sent event as the stream wrote it.</summary>
public sealed record ServerSentEvent(string? Id, string Type, string Data)
{
    public JsonObject Json => JsonNode.Parse(Data)!.AsObject();
}

/// <summary>Reads a <c>text/event-stream</c> response event by event, as EventSource does.</summary>
public sealed class EventStreamReader(HttpResponseMessage response) : IAsyncDisposable
{
    private StreamReader? _reader;

    public async Task<ServerSentEvent> NextAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        _reader ??= new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
        string? id = null, type = "message";
        var data = new List<string>();
        while (await _reader.ReadLineAsync(cancel.Token) is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Count > 0)
                {
                    return new ServerSentEvent(id, type, string.Join("\n", data));
                }

                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var (field, value) = colon < 0 ? (line, "") : (line[..colon], line[(colon + 1)..].TrimStart(' '));
            switch (field)
            {
                case "id": id = value; break;
                case "event": type = value; break;
                case "data": data.Add(value); break;
            }
        }

        throw new EndOfStreamException("The event stream ended.");
    }

    /// <summary>The next event that is not a keep-alive.</summary>
    public async Task<ServerSentEvent> NextMessageAsync(TimeSpan? timeout = null)
    {
        while (true)
        {
            var next = await NextAsync(timeout);
            if (next.Type != "ping")
            {
                return next;
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _reader?.Dispose();
        response.Dispose();
        return ValueTask.CompletedTask;
    }
}
