package sdkcheck_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	openai "github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/genai"

	"github.com/entity-enricher/enricher/transport/llm/llmtest"
)

// The official SDKs run the batch APIs against the fakes: create, get, cancel and read the
// results, decoding every object the fakes send. The fakes validate every request the SDKs
// send (the OpenAI and Anthropic ones against the vendors' descriptions).

// TestOpenAISDKBatch uploads a JSONL file and creates a batch with openai-go, polls it until
// completed, reads its output and error files (one request scripted to fail with a 429) and
// cancels a second batch.
func TestOpenAISDKBatch(t *testing.T) {
	t.Parallel()
	fake := llmtest.NewOpenAIServer(t, llmtest.OpenAIFlavorOpenAI, "sk-test")
	fake.SetBatchDelay(-1)
	fake.Script(func(n int, _ []byte) llmtest.OpenAIReply {
		if n == 2 {
			return llmtest.OpenAIReply{Status: 429, Body: llmtest.OpenAIErrorBody("Rate limit reached", "requests", "rate_limit_exceeded")}
		}
		return llmtest.OpenAIReply{}
	})
	client := openAISDK(t, fake, "sk-test")
	ctx := context.Background()

	var jsonl bytes.Buffer
	for i := range 3 {
		line, err := json.Marshal(map[string]any{"custom_id": fmt.Sprintf("c%d", i), "method": "POST",
			"url": "/v1/chat/completions", "body": openAIParams()})
		require.NoError(t, err)
		jsonl.Write(append(line, '\n'))
	}
	file, err := client.Files.New(ctx, openai.FileNewParams{
		File: openai.File(bytes.NewReader(jsonl.Bytes()), "batch.jsonl", "application/jsonl"), Purpose: openai.FilePurposeBatch})
	require.NoError(t, err)
	require.Equal(t, openai.FileObjectPurposeBatch, file.Purpose)
	require.Equal(t, int64(jsonl.Len()), file.Bytes)

	batch, err := client.Batches.New(ctx, openai.BatchNewParams{InputFileID: file.ID,
		Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions, CompletionWindow: openai.BatchNewParamsCompletionWindow24h})
	require.NoError(t, err)
	require.Equal(t, file.ID, batch.InputFileID)
	require.Equal(t, int64(3), batch.RequestCounts.Total)
	require.NotEqual(t, openai.BatchStatusCompleted, batch.Status)

	require.Equal(t, 1, fake.EndBatches())
	batch, err = client.Batches.Get(ctx, batch.ID)
	require.NoError(t, err)
	require.Equal(t, openai.BatchStatusCompleted, batch.Status)
	require.Equal(t, openai.BatchRequestCounts{Total: 3, Completed: 2, Failed: 1}.Total, batch.RequestCounts.Total)
	require.Equal(t, int64(2), batch.RequestCounts.Completed)
	require.Equal(t, int64(1), batch.RequestCounts.Failed)

	type outputLine struct {
		CustomID string `json:"custom_id"`
		Response struct {
			StatusCode int             `json:"status_code"`
			Body       json.RawMessage `json:"body"`
		} `json:"response"`
	}
	read := func(fileID string) []outputLine {
		resp, err := client.Files.Content(ctx, fileID)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out []outputLine
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var l outputLine
			require.NoError(t, json.Unmarshal(sc.Bytes(), &l))
			out = append(out, l)
		}
		return out
	}
	outputs := read(batch.OutputFileID)
	require.Len(t, outputs, 2)
	for _, l := range outputs {
		require.Equal(t, 200, l.Response.StatusCode)
		var completion openai.ChatCompletion
		require.NoError(t, json.Unmarshal(l.Response.Body, &completion))
		require.Len(t, completion.Choices, 1)
		var person map[string]any
		require.NoError(t, json.Unmarshal([]byte(completion.Choices[0].Message.Content), &person))
		require.Contains(t, person, "name")
	}
	errs := read(batch.ErrorFileID)
	require.Len(t, errs, 1)
	require.Equal(t, "c1", errs[0].CustomID)
	require.Equal(t, 429, errs[0].Response.StatusCode)

	second, err := client.Batches.New(ctx, openai.BatchNewParams{InputFileID: file.ID,
		Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions, CompletionWindow: openai.BatchNewParamsCompletionWindow24h})
	require.NoError(t, err)
	cancelled, err := client.Batches.Cancel(ctx, second.ID)
	require.NoError(t, err)
	require.Equal(t, openai.BatchStatusCancelling, cancelled.Status)
	cancelled, err = client.Batches.Get(ctx, second.ID)
	require.NoError(t, err)
	require.Equal(t, openai.BatchStatusCancelled, cancelled.Status)
	batches, requests := fake.BatchCounts()
	require.Equal(t, 2, batches)
	require.Equal(t, 6, requests)
}

// TestAnthropicSDKBatch creates a Message Batch with anthropic-sdk-go, polls it, streams its
// results (one request scripted to fail with overloaded_error) and cancels another.
func TestAnthropicSDKBatch(t *testing.T) {
	t.Parallel()
	fake := llmtest.NewAnthropicServer(t, "sk-ant-test")
	fake.SetBatchDelay(5 * time.Millisecond)
	fake.Script(func(n int, _ []byte) llmtest.AnthropicReply {
		if n == 1 {
			return llmtest.AnthropicReply{Status: 529, Body: llmtest.AnthropicErrorBody("overloaded_error", "Overloaded")}
		}
		return llmtest.AnthropicReply{}
	})
	client := anthropicSDK(fake)
	ctx := context.Background()
	p := anthropicParams()
	params := anthropic.MessageBatchNewParamsRequestParams{Model: p.Model, MaxTokens: p.MaxTokens, System: p.System,
		Messages: p.Messages, Tools: p.Tools, ToolChoice: p.ToolChoice}
	batch, err := client.Messages.Batches.New(ctx, anthropic.MessageBatchNewParams{Requests: []anthropic.MessageBatchNewParamsRequest{
		{CustomID: "first", Params: params}, {CustomID: "second", Params: params}}})
	require.NoError(t, err)
	require.Equal(t, anthropic.MessageBatchProcessingStatusInProgress, batch.ProcessingStatus)
	require.Equal(t, int64(2), batch.RequestCounts.Processing)

	for batch.ProcessingStatus != anthropic.MessageBatchProcessingStatusEnded {
		time.Sleep(2 * time.Millisecond)
		batch, err = client.Messages.Batches.Get(ctx, batch.ID, anthropic.MessageBatchGetParams{})
		require.NoError(t, err)
	}
	require.Equal(t, int64(1), batch.RequestCounts.Succeeded)
	require.Equal(t, int64(1), batch.RequestCounts.Errored)
	require.NotEmpty(t, batch.ResultsURL)

	stream := client.Messages.Batches.ResultsStreaming(ctx, batch.ID, anthropic.MessageBatchResultsParams{})
	got := map[string]anthropic.MessageBatchIndividualResponse{}
	for stream.Next() {
		r := stream.Current()
		got[r.CustomID] = r
	}
	require.NoError(t, stream.Err())
	require.Len(t, got, 2)
	require.Equal(t, "errored", got["first"].Result.Type)
	require.Equal(t, "overloaded_error", got["first"].Result.Error.Error.Type)
	require.Equal(t, "succeeded", got["second"].Result.Type)
	msg := got["second"].Result.Message
	require.Equal(t, anthropic.StopReasonToolUse, msg.StopReason)
	require.Len(t, msg.Content, 1)
	require.Equal(t, "record_answer", msg.Content[0].Name)
	var person map[string]any
	require.NoError(t, json.Unmarshal(msg.Content[0].Input, &person))
	require.Contains(t, person, "name")

	fake.SetBatchDelay(-1)
	other, err := client.Messages.Batches.New(ctx, anthropic.MessageBatchNewParams{Requests: []anthropic.MessageBatchNewParamsRequest{
		{CustomID: "only", Params: params}}})
	require.NoError(t, err)
	other, err = client.Messages.Batches.Cancel(ctx, other.ID, anthropic.MessageBatchCancelParams{})
	require.NoError(t, err)
	require.Equal(t, anthropic.MessageBatchProcessingStatusCanceling, other.ProcessingStatus)
	other, err = client.Messages.Batches.Get(ctx, other.ID, anthropic.MessageBatchGetParams{})
	require.NoError(t, err)
	require.Equal(t, anthropic.MessageBatchProcessingStatusEnded, other.ProcessingStatus)
	require.Equal(t, int64(1), other.RequestCounts.Canceled)
}

// TestGenaiBatch creates an inlined batch with google.golang.org/genai, polls it, reads the
// inlined responses (one scripted to fail with RESOURCE_EXHAUSTED) and cancels another.
func TestGenaiBatch(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewGeminiServer(t)
	srv.APIKey = testKey
	srv.SetBatchDelay(-1)
	srv.Script(func(n int, _ []byte) llmtest.GeminiReply {
		if n == 2 {
			return llmtest.GeminiReply{Status: 429, Body: llmtest.GeminiErrorBody(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted", "7s")}
		}
		return llmtest.GeminiReply{}
	})
	sdk, err := genai.NewClient(context.Background(), &genai.ClientConfig{APIKey: testKey, Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: srv.URL + "/"}})
	require.NoError(t, err)
	ctx := context.Background()
	var schema map[string]any
	require.NoError(t, json.Unmarshal([]byte(smallSchema), &schema))
	inlined := func(key string) *genai.InlinedRequest {
		return &genai.InlinedRequest{Contents: genai.Text("Alice is 30."), Metadata: map[string]string{"key": key},
			Config: &genai.GenerateContentConfig{ResponseMIMEType: "application/json", ResponseJsonSchema: schema}}
	}
	job, err := sdk.Batches.Create(ctx, "gemini-2.5-pro", &genai.BatchJobSource{InlinedRequests: []*genai.InlinedRequest{
		inlined("a"), inlined("b"), inlined("c")}}, &genai.CreateBatchJobConfig{DisplayName: "sdkcheck"})
	require.NoError(t, err)
	require.Equal(t, genai.JobStateRunning, job.State)
	require.Equal(t, "sdkcheck", job.DisplayName)

	require.Equal(t, 1, srv.EndBatches())
	job, err = sdk.Batches.Get(ctx, job.Name, nil)
	require.NoError(t, err)
	require.Equal(t, genai.JobStateSucceeded, job.State)
	require.NotNil(t, job.Dest)
	require.Len(t, job.Dest.InlinedResponses, 3)
	got := map[string]*genai.InlinedResponse{}
	for _, r := range job.Dest.InlinedResponses {
		got[r.Metadata["key"]] = r
	}
	for _, ok := range []string{"a", "c"} {
		require.Nil(t, got[ok].Error, ok)
		require.JSONEq(t, `{"name":"x","age":1}`, got[ok].Response.Text(), ok)
		require.Positive(t, got[ok].Response.UsageMetadata.PromptTokenCount, ok)
	}
	require.NotNil(t, got["b"].Error)
	require.Equal(t, int32(8), *got["b"].Error.Code) // RESOURCE_EXHAUSTED
	require.Nil(t, got["b"].Response)

	other, err := sdk.Batches.Create(ctx, "gemini-2.5-pro", &genai.BatchJobSource{InlinedRequests: []*genai.InlinedRequest{
		inlined("x")}}, &genai.CreateBatchJobConfig{DisplayName: "cancelled"})
	require.NoError(t, err)
	require.NoError(t, sdk.Batches.Cancel(ctx, other.Name, nil))
	other, err = sdk.Batches.Get(ctx, other.Name, nil)
	require.NoError(t, err)
	require.Equal(t, genai.JobStateCancelled, other.State)
	_, err = sdk.Batches.Get(ctx, "batches/unknown", nil)
	var apiErr genai.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 404, apiErr.Code)
}
