using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Omni.Tests.Reliability;

/// <summary>One request of a burst: its status (0 when no answer came: reset, refused, timed out), Retry-After, body, and when it was sent and answered.</summary>
public sealed record Answer(int Index, int Status, bool RetryAfter, JsonObject? Body, TimeSpan Started, TimeSpan At)
{
    public bool Acknowledged => Status is >= 200 and < 300;

    /// <summary>What a client must never see: a 5xx that is not a 503 telling it when to come back.</summary>
    public bool BadServerError => Status >= 500 && !(Status == 503 && RetryAfter);
}

/// <summary>Bounded bursts of requests, counted by status.</summary>
public static class Burst
{
    /// <summary>
    /// Sends <paramref name="count"/> requests, <paramref name="concurrency"/> at a time; <paramref name="answered"/> runs
    /// after each answer with how many have answered (the scenario kills or cuts something at a chosen point).
    /// </summary>
    public static async Task<List<Answer>> RunAsync(int count, int concurrency, Func<int, HttpRequestMessage> request, HttpClient client, Action<int>? answered = null, Stopwatch? clock = null)
    {
        clock ??= Stopwatch.StartNew();
        var answers = new ConcurrentBag<Answer>();
        var done = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, cancellationToken) =>
        {
            answers.Add(await SendAsync(client, request(i), i, clock, cancellationToken));
            answered?.Invoke(Interlocked.Increment(ref done));
        });
        return [.. answers.OrderBy(a => a.Index)];
    }

    public static async Task<Answer> SendAsync(HttpClient client, HttpRequestMessage request, int index, Stopwatch clock, CancellationToken cancellationToken = default)
    {
        using (request)
        {
            var started = clock.Elapsed;
            try
            {
                using var response = await client.SendAsync(request, cancellationToken);
                var text = await response.Content.ReadAsStringAsync(cancellationToken);
                JsonObject? body = null;
                try
                {
                    body = text.Length > 0 ? JsonNode.Parse(text) as JsonObject : null;
                }
                catch (System.Text.Json.JsonException)
                {
                }

                return new Answer(index, (int)response.StatusCode, response.Headers.RetryAfter is not null, body, started, clock.Elapsed);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
            {
                return new Answer(index, 0, false, null, started, clock.Elapsed);
            }
        }
    }

    public static HttpRequestMessage Post(string path, object body, string? token = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        if (token is not null)
        {
            request.Headers.Authorization = new("Bearer", token);
        }

        return request;
    }

    /// <summary>"202×180, 0×12, 500×3": the answers by status (0: no answer), with 503s that carried Retry-After apart.</summary>
    public static string Codes(IEnumerable<Answer> answers) =>
        string.Join(", ", answers.GroupBy(a => a.Status == 503 && a.RetryAfter ? "503+Retry-After" : a.Status == 0 ? "no answer" : a.Status.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}×{g.Count()}"));
}
