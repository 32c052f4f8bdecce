using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Omni.Benchmarks;

/// <summary>The arrange calls every benchmark makes against the app's API (companies, keys, channels).</summary>
internal static class BenchHttp
{
    /// <summary>POSTs a JSON body with a bearer token; the answer's JSON object, or an exception naming the route and the problem.</summary>
    public static async Task<JsonObject> PostJsonAsync(this HttpClient http, string path, object body, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return response.IsSuccessStatusCode ? JsonNode.Parse(text)!.AsObject() : throw new InvalidOperationException($"{path}: {(int)response.StatusCode} {text}");
    }
}
